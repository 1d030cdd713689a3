// The Gantry panel, the live run card and `gantry ui`, in Debian's
// Chromium against a real JupyterLab 4 (one server, which also serves
// Notebook 7) and a real `gantry ui`: what a person does, checked on the
// page, with screenshots in build/ui/. The tests run in order and share the
// server, the browser and the workspace.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { cancelAll, gantryCLI, launchBrowser, shot, startGantryUI, startLab, until } from './harness.mjs';

const BLOCKER = 'import time\nprint("blocker holds the slot", flush=True)\ntime.sleep(4)\n';
const TRAIN = `import os, time
import gantry_run
for epoch in range(6):
    loss = 1.0 / (epoch + 1)
    print(f"epoch {epoch} loss {loss:.3f}", flush=True)
    gantry_run.log("loss", loss, step=epoch)
    gantry_run.log("acc", 0.5 + epoch / 12, step=epoch)
    time.sleep(0.4)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
print("training done")
`;
const LONG = 'import time\nprint("long run starts", flush=True)\ntime.sleep(300)\n';

/** Records, in the page, every state each run's panel row and run card shows. */
function recordStates() {
  const w = window;
  w.__states = { panel: {}, card: {} };
  const push = (where, run, state) => {
    const seq = (w.__states[where][run] ??= []);
    if (seq[seq.length - 1] !== state) {
      seq.push(state);
    }
  };
  const scan = () => {
    for (const row of document.querySelectorAll('tr[data-run]')) {
      push('panel', row.dataset.run, row.dataset.state);
    }
    for (const card of document.querySelectorAll('.gantry-card[data-run]')) {
      push('card', card.dataset.run, card.dataset.state);
    }
  };
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  scan();
}

/** Asserts that want's states appear in seq in that order. */
function assertInOrder(seq, want, what) {
  let i = 0;
  for (const s of seq || []) {
    if (s === want[i]) {
      i++;
    }
  }
  assert.equal(i, want.length, `${what} showed ${JSON.stringify(seq)}; want ${want.join(' -> ')} in that order`);
}

describe('the Gantry panel and run card in JupyterLab and Notebook 7, and gantry ui', () => {
  let lab, browser, page;
  const runs = {}; // experiment -> run ID

  before(async () => {
    lab = await startLab();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', e => console.log('page error:', e.message));
    fs.writeFileSync(path.join(lab.notebooks, 'blocker.py'), BLOCKER);
    fs.writeFileSync(path.join(lab.notebooks, 'train.py'), TRAIN);
    fs.writeFileSync(path.join(lab.notebooks, 'long.py'), LONG);
  });

  after(async () => {
    await browser?.close();
    if (lab) {
      await cancelAll(lab.workspace, lab.dir);
      await lab.stop();
    }
  });

  it('opens the panel and creates a local target through the form, showing the API error inline', async () => {
    await page.goto(`${lab.base}/lab?token=${lab.token}`);
    await page.locator('li[data-id="gantry-panel"]').click();
    const panel = page.locator('#gantry-panel');
    await panel.locator('.gantry-form').waitFor();
    // Widen the sidebar, as a person would, by its handle.
    const handle = await page.locator('#jp-main-split-panel > .lm-SplitPanel-handle').first().boundingBox();
    if (handle) {
      await page.mouse.move(handle.x + handle.width / 2, handle.y + 200);
      await page.mouse.down();
      await page.mouse.move(470, handle.y + 200, { steps: 5 });
      await page.mouse.up();
    }
    await panel.locator('input[name="name"]').fill('9lives');
    await panel.locator('button[type="submit"]').click();
    await panel.locator('.gantry-form .gantry-error', { hasText: 'compute name "9lives" is invalid' }).waitFor();
    await panel.locator('input[name="name"]').fill('local');
    await panel.locator('input[name="max_concurrent_runs"]').fill('1');
    await panel.locator('button[type="submit"]').click();
    await panel.locator('.gantry-target[data-target="local"]').waitFor();
    assert.match(await panel.locator('.gantry-target[data-target="local"]').innerText(), /at most 1 runs at once/);
    await shot(page, 'lab-compute');
  });

  it('shows a run submitted from a cell going Queued -> Running -> Completed in the panel and in its card, without reloading', async () => {
    await lab.notebook('ui-test.ipynb', [
      '%submit --no-wait --experiment blocker blocker.py',
      'import "time"\ntime.Sleep(1500 * time.Millisecond) // the blocker holds the only slot',
      '%submit --experiment train train.py',
      '%submit --no-wait --experiment long long.py'
    ]);
    await page.goto(`${lab.base}/lab/tree/ui-test.ipynb`);
    await page.locator('.jp-Notebook .jp-Cell').first().waitFor();
    await page.locator('li[data-id="gantry-panel"][aria-selected="true"], li[data-id="gantry-panel"]').first().waitFor();
    if ((await page.locator('#gantry-panel').isHidden())) {
      await page.locator('li[data-id="gantry-panel"]').click();
    }
    await page.locator('#gantry-panel .gantry-tab[data-tab="runs"]').click();
    await until(
      async () => (await lab.api('GET', '/api/sessions')).some(s => s.path.endsWith('ui-test.ipynb') && s.kernel.execution_state === 'idle'),
      60000,
      'the Gantry kernel to be idle'
    );
    await page.evaluate(recordStates);
    // Run the cells one after the other, as a person would (shift-enter).
    await page.locator('.jp-Notebook .jp-Cell .jp-InputPrompt').first().click();
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Shift+Enter');
    }

    // The train run: its row, and its card in the third cell's output.
    const trainRow = page.locator('#gantry-panel tr[data-run]', { hasText: 'train' });
    await trainRow.waitFor({ timeout: 60000 });
    runs.train = await trainRow.getAttribute('data-run');
    const card = page.locator(`.jp-OutputArea-output .gantry-card[data-run="${runs.train}"]`);
    await card.waitFor({ timeout: 60000 });
    await page.locator(`.gantry-card[data-run="${runs.train}"][data-state="Completed"]`).waitFor({ timeout: 90000 });
    await page.locator(`#gantry-panel tr[data-run="${runs.train}"][data-state="Completed"]`).waitFor({ timeout: 30000 });
    const states = await page.evaluate(() => window.__states);
    assertInOrder(states.panel[runs.train], ['Queued', 'Running', 'Completed'], 'the panel row');
    assertInOrder(states.card[runs.train], ['Queued', 'Running', 'Completed'], 'the run card');
    const cardText = await card.innerText();
    assert.match(cardText, /training done/);
    assert.match(cardText, /preparation/);
    assert.match(cardText, /loss 0\.16667/);
    assert.equal(await card.locator('svg.gantry-card-spark polyline').count(), 1);
    // Where the card shows, the text status line is hidden.
    assert.equal(await page.locator('.gantry-run-status:visible').count(), 0);
    await card.scrollIntoViewIfNeeded();
    await shot(page, 'lab-notebook-card');
    await shot(card, 'lab-card');
  });

  it('cancels a second run from the panel, and its card follows after its cell has finished', async () => {
    const longRow = page.locator('#gantry-panel tr[data-run]', { hasText: 'long' });
    await longRow.waitFor({ timeout: 60000 });
    runs.long = await longRow.getAttribute('data-run');
    await page.locator(`#gantry-panel tr[data-run="${runs.long}"][data-state="Running"]`).waitFor({ timeout: 60000 });
    await shot(page, 'lab-runs');
    await longRow.click();
    const view = page.locator('#gantry-panel .gantry-runview');
    await view.locator('.gantry-log', { hasText: 'long run starts' }).waitFor();
    await view.locator('button', { hasText: /^Cancel$/ }).click();
    await page.locator('.jp-Dialog-button', { hasText: 'Cancel run' }).click();
    await view.locator('.gantry-run-head .gantry-badge[data-state="Canceled"]').waitFor({ timeout: 30000 });
    await page.locator(`.gantry-card[data-run="${runs.long}"][data-state="Canceled"]`).waitFor({ timeout: 30000 });
    await view.locator('.gantry-timeline li[data-to="CancelRequested"]').waitFor();
  });

  it('shows the cards again after the notebook is saved and the page reloaded, from the kernel', async () => {
    await page.locator('.jp-Notebook .jp-Cell .jp-InputPrompt').first().click();
    await page.keyboard.press('Control+s');
    await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty').waitFor({ state: 'detached' });
    await page.reload();
    await page.locator(`.gantry-card[data-run="${runs.train}"][data-state="Completed"]`).waitFor({ timeout: 60000 });
    await page.locator(`.gantry-card[data-run="${runs.long}"][data-state="Canceled"]`).waitFor({ timeout: 60000 });
    if (await page.locator('#gantry-panel').isHidden()) {
      await page.locator('li[data-id="gantry-panel"]').click();
    }
    await page.locator('#gantry-panel .gantry-tab[data-tab="runs"]').click();
  });

  it("opens a run's view with its log, metric charts, events and outputs", async () => {
    await page.locator(`#gantry-panel tr[data-run="${runs.train}"]`).click();
    const view = page.locator('#gantry-panel .gantry-runview');
    await view.locator('.gantry-log', { hasText: 'epoch 5 loss 0.167' }).waitFor();
    await view.locator('.gantry-chart[data-metric="loss"] canvas').first().waitFor();
    await view.locator('.gantry-chart[data-metric="acc"] canvas').first().waitFor();
    await view.locator('.gantry-timeline li[data-to="Completed"]').waitFor();
    const link = view.locator('.gantry-files a', { hasText: 'outputs/model.txt' });
    const href = await link.getAttribute('href');
    const body = await page.evaluate(async u => (await fetch(u)).text(), href);
    assert.equal(body, 'weights');
    assert.match(await view.locator('.gantry-run-summary').innerText(), /duration\s+\S+ \(prep /);
    await shot(page, 'lab-run-view');
  });

  it('shows the live run card in Notebook 7', async () => {
    await lab.notebook('nb7.ipynb', ['%submit --no-wait --experiment nb7 train.py']);
    const nb = await browser.context.newPage();
    await nb.goto(`${lab.base}/notebooks/nb7.ipynb`);
    await nb.locator('.jp-Notebook .jp-Cell').first().waitFor();
    await until(
      async () => (await lab.api('GET', '/api/sessions')).some(s => s.path.endsWith('nb7.ipynb') && s.kernel.execution_state === 'idle'),
      60000,
      'the Notebook 7 kernel to be idle'
    );
    await nb.evaluate(recordStates);
    await nb.locator('.jp-Cell .cm-content').first().click();
    await nb.keyboard.press('Shift+Enter');
    const card = nb.locator('.jp-OutputArea-output .gantry-card');
    await card.waitFor({ timeout: 60000 });
    const id = await card.getAttribute('data-run');
    await nb.locator(`.gantry-card[data-run="${id}"][data-state="Completed"]`).waitFor({ timeout: 90000 });
    const states = await nb.evaluate(() => window.__states);
    assertInOrder(states.card[id], ['Running', 'Completed'], 'the Notebook 7 card');
    assert.match(await card.innerText(), /training done/);
    await shot(nb, 'nb7-card');
    await nb.close();
  });

  it('shows the same views in gantry ui, without Jupyter', async () => {
    const ui = await startGantryUI(lab.workspace);
    try {
      const p = await browser.context.newPage();
      p.on('dialog', d => d.accept());
      await p.goto(ui.url);
      assert.ok(!p.url().includes('token='), `the token stays out of the address bar: ${p.url()}`);
      await p.locator('.gantry-target[data-target="local"]').waitFor();
      await p.locator('input[name="name"]').fill('second');
      await p.locator('button[type="submit"]').click();
      await p.locator('.gantry-target[data-target="second"]').waitFor();
      await shot(p, 'ui-compute');

      await p.locator('.gantry-tab[data-tab="runs"]').click();
      await p.locator(`tr[data-run="${runs.train}"][data-state="Completed"]`).waitFor();
      await p.evaluate(recordStates);
      const id = (await gantryCLI(['run', 'submit', '--workspace', lab.workspace, '--target', 'local', '--experiment', 'cli', path.join(lab.notebooks, 'long.py')], lab.dir)).trim();
      await p.locator(`tr[data-run="${id}"][data-state="Running"]`).waitFor({ timeout: 60000 });
      await shot(p, 'ui-runs');
      await p.locator(`tr[data-run="${id}"]`).click();
      await p.locator('.gantry-log', { hasText: 'long run starts' }).waitFor();
      await p.locator('.gantry-runview button', { hasText: /^Cancel$/ }).click();
      await p.locator('.gantry-run-head .gantry-badge[data-state="Canceled"]').waitFor({ timeout: 30000 });
      assertInOrder((await p.evaluate(() => window.__states)).panel[id], ['Running'], 'the gantry ui row');

      await p.locator('.gantry-link', { hasText: 'Runs' }).click();
      await p.locator(`tr[data-run="${runs.train}"]`).click();
      await p.locator('.gantry-log', { hasText: 'training done' }).waitFor();
      await p.locator('.gantry-chart[data-metric="loss"] canvas').first().waitFor();
      await shot(p, 'ui-run-view');
      await p.close();
    } finally {
      await ui.stop();
    }
  });
});

// The browser half of `make bench-ui`: with 10,000 runs and 1,000,000
// metric points in the workspace (made by bench/uibench fill), it measures
//
//   - the runs list API's first page (bench/uibench api, beside the store's
//     own query for the same page, the floor the API adds to);
//   - the panel's first paint: in gantry ui (page load to the Compute view
//     filled; the Runs tab's click to its first rows) and in JupyterLab
//     (the Gantry tab's first click to the Compute view filled, cold, with
//     jupyter-server-proxy starting gantry serve, then warm after reloads);
//   - a run's state change, from the moment it is recorded to when the
//     panel's row (gantry ui) and the notebook's run card (JupyterLab) show
//     it, p50 and p95;
//   - a log line, from when it is written to when the run view shows it.
//
// Wall-clock times of the driver (Go) and of the page (Date.now) are the
// same machine's clock. It writes a markdown table to --out.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { launchBrowser, root, startGantryUI, startLab, until } from '../test/harness.mjs';

const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : 'bench/results/ui.md';
const RUNS = Number(process.env.BENCH_RUNS || 10000);
const POINTS = Number(process.env.BENCH_POINTS || 1000000);
const SAMPLES = Number(process.env.BENCH_SAMPLES || 40);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-uibench-'));
const uibench = path.join(tmp, 'uibench');
execFileSync('go', ['build', '-o', uibench, './bench/uibench'], { cwd: root, stdio: 'inherit' });
const ub = args => execFileSync(uibench, args, { encoding: 'utf8' }).trim();

/** Runs a uibench driver and answers with its "K UNIX_MS" lines. */
function drive(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(uibench, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', d => (text += d));
    p.on('exit', code =>
      code === 0 ? resolve(text.trim().split('\n').map(l => l.split(' ')).map(([k, ms, st]) => ({ k: Number(k), ms: Number(ms), st }))) : reject(new Error(`uibench ${args[0]}: ${code}`))
    );
  });
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.min(s.length - 1, Math.ceil((s.length * p) / 100) - 1))];
}

/** In the page: record when each element matching sel first shows each data-state. */
function recordStates(sel) {
  const w = window;
  w.__seen = [];
  let last = null;
  const scan = () => {
    const el = document.querySelector(sel);
    const st = el?.dataset.state;
    if (st && st !== last) {
      last = st;
      w.__seen.push({ st, ms: Date.now() });
    }
  };
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  scan();
}

/** In the page: record when each "bench tick K" line first shows in the log. */
function recordTicks() {
  const w = window;
  w.__ticks = {};
  const scan = () => {
    const text = document.querySelector('.gantry-log')?.textContent || '';
    for (const m of text.matchAll(/bench tick (\d+)/g)) {
      w.__ticks[m[1]] ??= Date.now();
    }
  };
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, characterData: true });
}

/**
 * Before the page's scripts run: record, in the page's own clock, the
 * first time an element matches each selector of marks (name -> selector),
 * and the time of the last click.
 */
function markFirst(marks) {
  const w = window;
  w.__marks = {};
  const scan = () => {
    for (const [name, sel] of Object.entries(marks)) {
      if (!(name in w.__marks) && document.querySelector(sel)) {
        w.__marks[name] = performance.now();
      }
    }
  };
  new MutationObserver(scan).observe(document, { subtree: true, childList: true });
  document.addEventListener('click', () => (w.__clicked = performance.now()), true);
}

/** Pairs the driver's changes with the page's sightings, in order: latencies in ms. */
function latencies(driven, seen) {
  const out = [];
  let i = 0;
  for (const d of driven) {
    while (i < seen.length && seen[i].st !== d.st) {
      i++;
    }
    if (i < seen.length) {
      out.push(seen[i].ms - d.ms);
      i++;
    }
  }
  return out;
}

const rows = [];
const row = (what, p50, p95, budget, note) => rows.push({ what, p50, p95, budget, note });
const fmt = x => (x === undefined ? '' : `${Math.round(x * 10) / 10} ms`);

const lab = await startLab();
const browser = await launchBrowser();
let ui;
try {
  console.log(`filling ${lab.workspace} with ${RUNS} runs and ${POINTS} metric points...`);
  ub(['fill', '-ws', lab.workspace, '-runs', String(RUNS), '-points', String(POINTS)]);

  // The runs list API.
  const api = JSON.parse(ub(['api', '-ws', lab.workspace, '-n', '50']));
  row('runs list API, first page (50 runs + last metrics)', api.api_p50, api.api_p95, '50 ms', `the store's own query for the page: ${fmt(api.store_p50)} / ${fmt(api.store_p95)}`);

  // gantry ui: first paint, runs list, state changes, log lines.
  ui = await startGantryUI(lab.workspace);
  const page = await browser.context.newPage();
  await page.addInitScript(markFirst, { compute: '.gantry-target', runs: 'tr[data-run]' });
  await page.goto(ui.url); // sets the cookie
  const base = ui.url.replace(/\?token=.*/, '');
  const paints = [];
  const lists = [];
  for (let i = 0; i < 10; i++) {
    await page.goto(base);
    await page.locator('.gantry-target').first().waitFor();
    await page.locator('.gantry-tab[data-tab="runs"]').click();
    await page.locator('tr[data-run]').first().waitFor();
    const m = await page.evaluate(() => ({ marks: window.__marks, clicked: window.__clicked }));
    paints.push(m.marks.compute);
    lists.push(m.marks.runs - m.clicked);
  }
  row('gantry ui: page load to the Compute view painted', pct(paints, 50), pct(paints, 95), '500 ms', '10 loads');
  row('gantry ui: Runs tab click to its first 50 rows', pct(lists, 50), pct(lists, 95), '500 ms', '10 loads');

  const id = ub(['run', '-ws', lab.workspace]);
  await page.locator(`tr[data-run="${id}"]`).waitFor();
  await page.evaluate(recordStates, `tr[data-run="${id}"]`);
  const driven = await drive(['state', '-ws', lab.workspace, '-run', id, '-n', String(SAMPLES), '-every', '300ms']);
  const panelLat = latencies(driven, await page.evaluate(() => window.__seen));
  row('state change recorded -> panel row (gantry ui)', pct(panelLat, 50), pct(panelLat, 95), '250 ms p95', `${panelLat.length} of ${driven.length} changes`);

  await page.locator(`tr[data-run="${id}"]`).click();
  await page.locator('.gantry-log').waitFor();
  await page.waitForTimeout(500);
  await page.evaluate(recordTicks);
  const written = await drive(['log', '-ws', lab.workspace, '-run', id, '-n', String(SAMPLES), '-every', '200ms']);
  await page.waitForTimeout(500);
  const ticks = await page.evaluate(() => window.__ticks);
  const logLat = written.filter(w => ticks[w.k]).map(w => ticks[w.k] - w.ms);
  row('log line written -> run view (gantry ui)', pct(logLat, 50), pct(logLat, 95), '250 ms p95', `${logLat.length} of ${written.length} lines`);
  ub(['end', '-ws', lab.workspace, '-run', id]);
  await page.close();

  // JupyterLab: the panel's first paint, cold (the proxy starts gantry
  // serve) and warm; then the run card's latency.
  const lp = await browser.context.newPage();
  await lp.addInitScript(markFirst, { compute: '#gantry-panel .gantry-target' });
  const labPaints = [];
  for (let i = 0; i < 11; i++) {
    // ?reset: a fresh layout, with the sidebar closed.
    await lp.goto(`${lab.base}/lab?reset&token=${lab.token}`);
    await lp.locator('li[data-id="gantry-panel"]').waitFor();
    await lp.waitForTimeout(1000); // let the page settle
    await lp.locator('li[data-id="gantry-panel"]').click();
    await lp.locator('#gantry-panel .gantry-target').first().waitFor();
    const m = await lp.evaluate(() => ({ marks: window.__marks, clicked: window.__clicked }));
    labPaints.push(m.marks.compute - m.clicked);
  }
  row('JupyterLab: Gantry tab click to the Compute view painted, first time (proxy starts gantry serve)', labPaints[0], undefined, '500 ms', 'cold');
  const warm = labPaints.slice(1);
  row('JupyterLab: the same after a reload (server running)', pct(warm, 50), pct(warm, 95), '500 ms', `${warm.length} reloads`);

  const cardRun = ub(['run', '-ws', lab.workspace]);
  await lab.notebook('bench.ipynb', [`%run wait ${cardRun}`]);
  await lp.goto(`${lab.base}/lab/tree/bench.ipynb`);
  await lp.locator('.jp-Notebook .jp-Cell').first().waitFor();
  await until(
    async () => (await lab.api('GET', '/api/sessions')).some(s => s.path.endsWith('bench.ipynb') && s.kernel.execution_state === 'idle'),
    60000,
    'the kernel'
  );
  await lp.locator('.jp-Notebook .jp-Cell .jp-InputPrompt').first().click();
  await lp.keyboard.press('Shift+Enter');
  await lp.locator(`.gantry-card[data-run="${cardRun}"][data-state]`).waitFor({ timeout: 60000 });
  await lp.evaluate(recordStates, `.gantry-card[data-run="${cardRun}"]`);
  const drivenCard = await drive(['state', '-ws', lab.workspace, '-run', cardRun, '-n', String(SAMPLES), '-every', '300ms']);
  await lp.waitForTimeout(500);
  const cardLat = latencies(drivenCard, await lp.evaluate(() => window.__seen));
  row('state change recorded -> run card in the notebook (JupyterLab)', pct(cardLat, 50), pct(cardLat, 95), '250 ms p95', `${cardLat.length} of ${drivenCard.length} changes`);
  ub(['end', '-ws', lab.workspace, '-run', cardRun]);
} finally {
  await browser.close();
  await ui?.stop();
  await lab.stop();
}

const cpu = os.cpus()[0]?.model || 'unknown CPU';
const load = os.loadavg().map(x => x.toFixed(1)).join(', ');
const md = [
  '# Gantry panel, gantry ui and run card (make bench-ui)',
  '',
  `${RUNS} runs and ${POINTS} metric points in the workspace; ${os.cpus().length} cores (${cpu}); load average ${load} at the end; headless Chromium (Debian's); ${new Date().toISOString()}.`,
  '',
  '| measured | p50 | p95 | budget | note |',
  '|---|---|---|---|---|',
  ...rows.map(r => `| ${r.what} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${r.budget} | ${r.note} |`),
  ''
].join('\n');
fs.mkdirSync(path.dirname(path.resolve(root, out)), { recursive: true });
fs.writeFileSync(path.resolve(root, out), md);
console.log(md);
fs.rmSync(tmp, { recursive: true, force: true });

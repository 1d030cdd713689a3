// What the browser tests share: a real JupyterLab (with Notebook 7) started
// from the project's venv, `gantry ui`, and Debian's Chromium driven by
// playwright-core. Every wait has a timeout, as a hang guard only.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const venv = process.env.GANTRY_VENV || path.join(root, '.venv');
export const gantry = process.env.GANTRY_BINARY || path.join(root, 'bin', 'gantry');
export const shots = process.env.UI_SHOTS || path.join(root, 'build', 'ui');

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Resolves when fn() is truthy, polling; rejects after ms with what. */
export async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
}

/** A process whose output is kept, stopped (and its group) at the end. */
function start(cmd, args, opts) {
  const p = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  p.output = '';
  p.stdout.on('data', d => (p.output += d));
  p.stderr.on('data', d => (p.output += d));
  // Runs this process starts may hold its pipes open for long after it
  // exits: stop reading them then.
  p.once('exit', () => setTimeout(() => {
    p.stdout.destroy();
    p.stderr.destroy();
  }, 200));
  p.stop = async () => {
    if (p.exitCode !== null || p.signalCode !== null) {
      return;
    }
    const gone = new Promise(r => p.once('exit', r));
    try {
      process.kill(-p.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
    }, 10000);
    await gone;
    clearTimeout(timer);
  };
  return p;
}

/** The environment the servers run in: the venv first on PATH, nothing of the caller's Jupyter or Gantry settings. */
function env(dir, extra = {}) {
  const e = { ...process.env };
  for (const k of Object.keys(e)) {
    if (k.startsWith('JUPYTER') || k.startsWith('GANTRY_')) {
      delete e[k];
    }
  }
  return {
    ...e,
    PATH: `${path.join(venv, 'bin')}:${path.dirname(gantry)}:${e.PATH}`,
    VIRTUAL_ENV: venv,
    GANTRY_BINARY: gantry,
    JUPYTER_CONFIG_DIR: path.join(dir, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(dir, 'runtime'),
    JUPYTERLAB_SETTINGS_DIR: path.join(dir, 'settings'),
    JUPYTERLAB_WORKSPACES_DIR: path.join(dir, 'workspaces'),
    ...extra
  };
}

/**
 * Starts JupyterLab 4 (which also serves Notebook 7) on a free port, in a
 * fresh notebook directory whose .gantry workspace the kernel and the
 * panel share. It answers with its base URL and token.
 */
export async function startLab() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-ui-lab-'));
  const notebooks = path.join(dir, 'notebooks');
  fs.mkdirSync(notebooks);
  // No news pop-up over the screenshots.
  const settings = path.join(dir, 'settings', '@jupyterlab', 'apputils-extension');
  fs.mkdirSync(settings, { recursive: true });
  fs.writeFileSync(path.join(settings, 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false', checkForUpdates: false }));
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const p = start(
    path.join(venv, 'bin', 'jupyter'),
    ['lab', '--no-browser', '--allow-root', `--port=${port}`, '--ServerApp.ip=127.0.0.1', `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${notebooks}`],
    { cwd: notebooks, env: env(dir) }
  );
  const base = `http://127.0.0.1:${port}`;
  await until(async () => {
    if (p.exitCode !== null) {
      throw new Error(`jupyter lab exited: ${p.output}`);
    }
    try {
      return (await fetch(`${base}/api/status?token=${token}`)).ok;
    } catch {
      return false;
    }
  }, 90000, 'JupyterLab to answer');
  return {
    base,
    token,
    dir,
    notebooks,
    workspace: path.join(notebooks, '.gantry'),
    process: p,
    /** Calls Jupyter's REST API. */
    async api(method, url, body) {
      const resp = await fetch(`${base}${url}`, {
        method,
        headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      });
      if (!resp.ok) {
        throw new Error(`${method} ${url}: ${resp.status} ${await resp.text()}`);
      }
      return resp.status === 204 ? null : resp.json();
    },
    /** Writes a notebook of Go cells for the Gantry kernel. */
    async notebook(name, cells) {
      await this.api('PUT', `/api/contents/${name}`, {
        type: 'notebook',
        format: 'json',
        content: {
          nbformat: 4,
          nbformat_minor: 5,
          metadata: { kernelspec: { name: 'gantry', display_name: 'Go (Gantry)', language: 'go' } },
          cells: cells.map((source, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, source, outputs: [], execution_count: null }))
        }
      });
    },
    /** Shuts the kernels down, then the server. */
    async stop() {
      for (const s of await this.api('GET', '/api/sessions').catch(() => [])) {
        await this.api('DELETE', `/api/sessions/${s.id}`).catch(() => null);
      }
      await p.stop();
    }
  };
}

/** Starts `gantry ui` on a free port over workspace; answers with the page's address (token included). */
export async function startGantryUI(workspace) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-ui-page-'));
  const p = start(gantry, ['ui', '--no-browser', '--addr', '127.0.0.1:0', '--workspace', workspace], { cwd: dir, env: env(dir) });
  const url = await until(() => {
    if (p.exitCode !== null) {
      throw new Error(`gantry ui exited: ${p.output}`);
    }
    return p.output.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/)?.[0];
  }, 30000, 'gantry ui to print its address');
  return { url, process: p, stop: () => p.stop() };
}

/** Cancels every run of workspace that has not ended, so that none outlives the tests. */
export async function cancelAll(workspace, cwd) {
  const out = await gantryCLI(['run', 'list', '--workspace', workspace], cwd).catch(() => '');
  for (const line of out.split('\n')) {
    const m = line.match(/^([0-9a-f]{8})\S*\s.*\b(NotStarted|Queued|Preparing|Starting|Running|NotResponding)\b/);
    if (m) {
      await gantryCLI(['run', 'cancel', '--workspace', workspace, m[1]], cwd).catch(() => '');
    }
  }
}

/** Runs the gantry CLI and answers with its output. */
export async function gantryCLI(args, cwd) {
  const p = start(gantry, args, { cwd, env: env(cwd) });
  await new Promise(r => p.once('exit', r));
  if (p.exitCode !== 0) {
    throw new Error(`gantry ${args.join(' ')}: ${p.output}`);
  }
  return p.output;
}

/** Debian's Chromium, headless, with a fresh profile. */
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  });
  context.setDefaultTimeout(60000);
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
}

/** Saves a screenshot of page (or of one element) as build/ui/<name>.png. */
export async function shot(target, name) {
  fs.mkdirSync(shots, { recursive: true });
  await target.screenshot({ path: path.join(shots, `${name}.png`) });
}

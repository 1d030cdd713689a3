// The Runs view: runs newest first with their state, target, duration
// (environment preparation included) and last metrics, filtered and paged,
// kept up to date by the event stream.

import { Api, Run } from './api';
import { badge, duration, h, metric, shortID, when } from './dom';

/** How long a run has taken by now, preparation included, from what the server said at fetchedAt. */
export function elapsedNow(r: Run, fetchedAt: number): number {
  const begun = r.prepared !== null || r.started !== null;
  return begun && !r.final ? r.elapsed_ms + (Date.now() - fetchedAt) : r.elapsed_ms;
}

/** "8.2s (prep 3.1s)": the duration with its preparation. */
export function durationText(r: Run, fetchedAt: number): string {
  if (r.prepared === null && r.started === null) {
    return r.final ? '' : 'waiting';
  }
  const total = elapsedNow(r, fetchedAt);
  let prep = r.preparing_ms;
  if (!r.final && r.started === null) {
    prep = total; // still preparing
  }
  return prep > 0 ? `${duration(total)} (prep ${duration(prep)})` : duration(total);
}

export class RunsView {
  readonly node = h('div', { class: 'gantry-runs' });
  private body = h('tbody');
  private more = h('button', { class: 'gantry-button', hidden: true, onclick: () => void this.load(true) }, 'Load more');
  private filters: Record<string, HTMLSelectElement> = {};
  private rows = new Map<string, { run: Run; row: HTMLTableRowElement; fetchedAt: number }>();
  private next = '';
  private timer = 0;
  private pending = 0;

  constructor(
    private api: Api,
    private open: (id: string) => void
  ) {
    const filter = (name: string, label: string) => {
      const sel = h('select', { name, 'aria-label': label, onchange: () => void this.load(false) }, h('option', { value: '' }, `any ${label}`));
      this.filters[name] = sel;
      return sel;
    };
    const states = ['Queued', 'Preparing', 'Running', 'Completed', 'Failed', 'Canceled', 'NotResponding'];
    const stateSel = filter('state', 'state');
    stateSel.append(...states.map(s => h('option', { value: s }, s)));
    this.node.append(
      h('div', { class: 'gantry-filters' }, filter('experiment', 'experiment'), filter('target', 'target'), stateSel),
      h(
        'table',
        { class: 'gantry-table' },
        h('thead', {}, h('tr', {}, ['state', 'run', 'experiment', 'target', 'started', 'duration', 'metrics'].map(c => h('th', {}, c)))),
        this.body
      ),
      this.more
    );
    this.timer = window.setInterval(() => this.tick(), 1000);
  }

  dispose(): void {
    window.clearInterval(this.timer);
  }

  /** Fills the filters' choices. */
  async options(): Promise<void> {
    let exps: string[] = [];
    let targets: string[] = [];
    try {
      exps = await this.api.experiments();
      targets = (await this.api.targets()).map(t => t.name);
    } catch {
      return;
    }
    for (const [name, values] of [
      ['experiment', exps],
      ['target', targets]
    ] as [string, string[]][]) {
      const sel = this.filters[name];
      const keep = sel.value;
      sel.replaceChildren(h('option', { value: '' }, `any ${name}`), ...values.map(v => h('option', { value: v }, v)));
      sel.value = values.includes(keep) ? keep : '';
    }
  }

  /** Loads the first page again, or the next one when more is set. */
  async load(more = false): Promise<void> {
    const q: Record<string, string> = { limit: '50' };
    for (const [k, sel] of Object.entries(this.filters)) {
      if (sel.value) {
        q[k] = sel.value;
      }
    }
    if (more && this.next) {
      q.before = this.next;
    }
    let page;
    try {
      page = await this.api.runs(q);
    } catch (e) {
      this.body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'gantry-error' }, (e as Error).message)));
      return;
    }
    const fetchedAt = Date.now();
    if (!more) {
      this.rows.clear();
      this.body.replaceChildren();
    }
    for (const r of page.runs) {
      const row = h('tr', { class: 'gantry-run-row', dataset: { run: r.id }, onclick: () => this.open(r.id) });
      this.rows.set(r.id, { run: r, row, fetchedAt });
      this.fill(r.id);
      this.body.append(row);
    }
    if (this.rows.size === 0) {
      this.body.append(h('tr', {}, h('td', { colspan: 7, class: 'gantry-empty' }, 'No runs yet: %submit train.py in a notebook starts one.')));
    }
    this.next = page.next;
    this.more.hidden = !page.next;
  }

  private fill(id: string): void {
    const e = this.rows.get(id)!;
    const r = e.run;
    const metrics = Object.keys(r.metrics)
      .sort()
      .slice(0, 3)
      .map(k => `${k} ${metric(r.metrics[k])}`)
      .join(', ');
    e.row.dataset.state = r.state;
    e.row.replaceChildren(
      h('td', { class: 'gantry-c-state' }, badge(r.state)),
      h('td', { class: 'gantry-c-id', title: r.id }, h('code', {}, shortID(r.id))),
      h('td', { class: 'gantry-c-experiment' }, r.experiment),
      h('td', { class: 'gantry-c-target' }, r.target),
      h('td', { class: 'gantry-c-started' }, when(r.started ?? r.prepared ?? r.created)),
      h('td', { class: 'gantry-duration' }, durationText(r, e.fetchedAt)),
      h('td', { class: 'gantry-c-metrics' }, metrics)
    );
  }

  private tick(): void {
    for (const [id, e] of this.rows) {
      if (!e.run.final) {
        const cell = e.row.querySelector('.gantry-duration');
        if (cell) {
          cell.textContent = durationText(e.run, e.fetchedAt);
        }
      }
      void id;
    }
  }

  /** A run changed state: show it at once, then reload for the details. */
  onChange(c: { run: string; to: string; from: string }): void {
    const e = this.rows.get(c.run);
    if (e) {
      e.row.dataset.state = c.to;
      e.row.querySelector('.gantry-badge')?.replaceWith(badge(c.to));
    }
    if (e || c.from === '') {
      window.clearTimeout(this.pending);
      this.pending = window.setTimeout(() => void this.load(false), 400);
    }
  }
}

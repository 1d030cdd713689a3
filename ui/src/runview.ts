// The run view: one run's state and times, its live log tail, metric
// charts (uPlot), events timeline and outputs, with Cancel, Resubmit and
// the Go that re-attaches to it.

import uPlot from 'uplot';

import { Api, EventStream, Run, RunEvent, Series, ServerEvent } from './api';
import { durationText } from './runs';
import { badge, errorBox, h, Host, shortID, when } from './dom';

/** The most log text the view keeps; older lines are dropped. */
const maxLogChars = 256 * 1024;

export class RunView {
  readonly node = h('div', { class: 'gantry-runview' });
  private stream: EventStream | null = null;
  private run: Run | null = null;
  private fetchedAt = 0;
  private logNext = -1;
  private metricSeq = -1;
  private series: Record<string, Series> = {};
  private charts: Record<string, uPlot> = {};
  private timer = 0;
  private encoder = new TextEncoder();

  private head = h('div', { class: 'gantry-run-head' });
  private summary = h('div', { class: 'gantry-run-summary' });
  private timeline = h('ol', { class: 'gantry-timeline' });
  private chartsEl = h('div', { class: 'gantry-charts' });
  private log = h('pre', { class: 'gantry-log', tabindex: 0 });
  private follow = h('input', { type: 'checkbox', checked: true, 'aria-label': 'follow' }) as HTMLInputElement;
  private files = h('ul', { class: 'gantry-files' });
  private err = errorBox();

  constructor(
    private api: Api,
    private host: Host,
    readonly id: string,
    private back: () => void,
    private workspaceDir: string
  ) {
    this.node.append(
      h('button', { class: 'gantry-link', onclick: () => this.back() }, '← Runs'),
      this.head,
      this.err,
      this.summary,
      h('h4', {}, 'Log ', h('label', { class: 'gantry-follow' }, this.follow, ' follow')),
      this.log,
      h('h4', {}, 'Metrics'),
      this.chartsEl,
      h('h4', {}, 'Events'),
      this.timeline,
      h('h4', {}, 'Outputs'),
      this.files
    );
    this.timer = window.setInterval(() => this.showSummary(), 1000);
  }

  async start(): Promise<void> {
    await this.reload();
    try {
      const tail = await this.api.logTail(this.id, 64 * 1024);
      this.appendLog(tail.text);
      this.logNext = tail.next;
    } catch (e) {
      this.err.show(e);
    }
    try {
      const m = await this.api.metrics(this.id);
      this.series = m.series;
      this.metricSeq = m.seq;
      for (const name of Object.keys(this.series).sort()) {
        this.chart(name);
      }
      if (Object.keys(this.series).length === 0) {
        this.chartsEl.replaceChildren(h('p', { class: 'gantry-empty' }, 'No metrics yet.'));
      }
    } catch (e) {
      this.err.show(e);
    }
    this.stream = new EventStream(
      this.api,
      () => ({ run: this.id, log: String(Math.max(this.logNext, 0)), metrics: String(Math.max(this.metricSeq, 0)) }),
      e => this.onEvent(e)
    ).start();
  }

  dispose(): void {
    this.stream?.close();
    window.clearInterval(this.timer);
    for (const c of Object.values(this.charts)) {
      c.destroy();
    }
  }

  private async reload(): Promise<void> {
    try {
      const d = await this.api.run(this.id);
      this.run = d.run;
      this.fetchedAt = Date.now();
      this.showHead();
      this.showSummary();
      this.showEvents(d.events);
      this.showFiles(d.files);
    } catch (e) {
      this.err.show(e);
    }
  }

  private onEvent(e: ServerEvent): void {
    const d = e.data;
    if (e.event === 'log' && d.run === this.id) {
      this.appendLog(d.text);
      this.logNext = d.offset + this.encoder.encode(d.text).length;
    } else if (e.event === 'metrics' && d.run === this.id) {
      for (const p of d.points) {
        const s = (this.series[p.name] ??= { steps: [], values: [], times: [] });
        s.steps.push(p.step);
        s.values.push(p.value);
        s.times.push(p.time);
        this.metricSeq = Math.max(this.metricSeq, p.seq);
      }
      const names = new Set<string>(d.points.map((p: any) => p.name));
      names.forEach(n => this.chart(n));
    } else if (e.event === 'change' && d.run === this.id) {
      if (this.run) {
        this.run.state = d.to;
      }
      this.head.querySelector('.gantry-badge')?.replaceWith(badge(d.to));
      void this.reload();
    }
  }

  private showHead(): void {
    const r = this.run!;
    const cancel = h(
      'button',
      {
        class: 'gantry-button gantry-danger',
        disabled: r.final,
        onclick: async () => {
          if (!(await this.host.confirm(`Cancel run ${shortID(r.id)}?`, 'Its agent stops the script.', 'Cancel run'))) {
            return;
          }
          this.err.clear();
          await this.api.cancel(r.id).catch(e => this.err.show(e));
        }
      },
      'Cancel'
    );
    const resubmit = h(
      'button',
      {
        class: 'gantry-button',
        onclick: async () => {
          this.err.clear();
          try {
            const nr = await this.api.resubmit(r.id);
            this.err.show(`Resubmitted as run ${shortID(nr.run.id)}.`);
            this.err.classList.add('gantry-note');
          } catch (e) {
            this.err.show(e);
          }
        }
      },
      'Resubmit'
    );
    const copy = h(
      'button',
      {
        class: 'gantry-button',
        title: 'Copy the Go that re-attaches to this run in a notebook cell',
        onclick: async () => {
          await this.host.copy(this.goSnippet());
          copy.textContent = 'Copied';
          window.setTimeout(() => (copy.textContent = 'Copy Go'), 1500);
        }
      },
      'Copy Go'
    );
    this.head.replaceChildren(
      h('h3', {}, 'Run ', h('code', { title: r.id }, shortID(r.id)), ' ', badge(r.state)),
      h('div', { class: 'gantry-actions' }, cancel, resubmit, copy)
    );
  }

  private goSnippet(): string {
    return [
      `ws, _ := sdk.OpenWorkspace(ctx, ${JSON.stringify(this.workspaceDir)})`,
      `run, _ := ws.Run(ctx, ${JSON.stringify(this.id)})`,
      `run.WaitForCompletion(ctx, sdk.WaitOptions{Output: os.Stdout})`
    ].join('\n');
  }

  private showSummary(): void {
    const r = this.run;
    if (!r) {
      return;
    }
    const row = (k: string, v: string | number | null) => (v === null || v === '' ? null : h('div', {}, h('span', {}, k), ' ', String(v)));
    const rows = [
      row('experiment', r.experiment),
      row('target', r.target),
      row('created', when(r.created)),
      row('started', when(r.started)),
      row('ended', when(r.ended)),
      row('duration', durationText(r, this.fetchedAt)),
      row('exit code', r.exit_code)
    ];
    this.summary.replaceChildren(...(rows.filter(Boolean) as HTMLElement[]));
  }

  private showEvents(events: RunEvent[]): void {
    this.timeline.replaceChildren(
      ...events.map(e =>
        h('li', { dataset: { to: e.to } }, h('time', {}, new Date(e.time).toLocaleTimeString()), ' ', badge(e.to), e.reason ? ` ${e.reason}` : '')
      )
    );
  }

  private showFiles(files: string[]): void {
    if (files.length === 0) {
      this.files.replaceChildren(h('li', { class: 'gantry-empty' }, 'No files yet.'));
      return;
    }
    this.files.replaceChildren(
      ...files.map(f => h('li', {}, h('a', { href: this.api.fileURL(this.id, f), download: f.split('/').pop() }, f)))
    );
  }

  private appendLog(text: string): void {
    if (!text) {
      return;
    }
    let all = (this.log.textContent || '') + text;
    if (all.length > maxLogChars) {
      all = all.slice(all.indexOf('\n', all.length - maxLogChars) + 1);
    }
    this.log.textContent = all;
    if (this.follow.checked) {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  private chart(name: string): void {
    const s = this.series[name];
    const order = s.steps.map((_, i) => i).sort((a, b) => s.steps[a] - s.steps[b]);
    const data: uPlot.AlignedData = [order.map(i => s.steps[i]), order.map(i => s.values[i])];
    const existing = this.charts[name];
    if (existing) {
      existing.setData(data);
      return;
    }
    this.chartsEl.querySelector('.gantry-empty')?.remove();
    const box = h('div', { class: 'gantry-chart', dataset: { metric: name } });
    this.chartsEl.append(box);
    const width = Math.max(240, Math.min(this.node.clientWidth - 24, 640) || 300);
    this.charts[name] = new uPlot(
      {
        title: name,
        width,
        height: 150,
        scales: { x: { time: false } },
        legend: { show: false },
        series: [{ label: 'step' }, { label: name, stroke: '#1976d2', width: 1.5, spanGaps: true }],
        axes: [{ size: 30 }, { size: 50 }]
      },
      data,
      box
    );
  }
}

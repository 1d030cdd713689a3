// The Gantry panel: Compute, Runs and Models, and a run's own view, over
// one event stream that keeps them current. The JupyterLab extension puts
// it in the left sidebar; `gantry ui` shows it as a page.

import { Api, EventStream, ServerEvent } from './api';
import { ComputeView } from './compute';
import { h, Host } from './dom';
import { ModelsView } from './models';
import { RunsView } from './runs';
import { RunView } from './runview';

type Tab = 'compute' | 'runs' | 'models';

export class GantryPanel {
  private compute: ComputeView;
  private runs: RunsView;
  private models: ModelsView;
  private runView: RunView | null = null;
  private stream: EventStream | null = null;
  private body = h('div', { class: 'gantry-body' });
  private tabs: Record<Tab, HTMLButtonElement>;
  private tab: Tab = 'compute';
  private dir = h('div', { class: 'gantry-dir' });
  private workspaceDir = '';
  private refreshTargets = 0;
  private clusterTimer = 0;

  constructor(
    readonly node: HTMLElement,
    private api: Api,
    private host: Host
  ) {
    node.classList.add('gantry-panel');
    this.compute = new ComputeView(api, host);
    this.runs = new RunsView(api, id => this.openRun(id));
    this.models = new ModelsView(api, id => this.openRun(id));
    const tab = (t: Tab, label: string) =>
      h('button', { class: 'gantry-tab', role: 'tab', dataset: { tab: t }, onclick: () => this.show(t) }, label);
    this.tabs = { compute: tab('compute', 'Compute'), runs: tab('runs', 'Runs'), models: tab('models', 'Models') };
    node.replaceChildren(
      h('header', { class: 'gantry-header' }, h('h2', {}, 'Gantry'), this.dir),
      h('nav', { class: 'gantry-tabs', role: 'tablist' }, Object.values(this.tabs)),
      this.body
    );
  }

  /** Loads the views and starts following the workspace. */
  async start(): Promise<void> {
    this.api
      .workspace()
      .then(w => {
        this.workspaceDir = w.dir;
        this.dir.textContent = w.dir;
        this.dir.title = 'the workspace';
      })
      .catch(e => (this.dir.textContent = (e as Error).message));
    this.show(this.tab);
    this.stream = new EventStream(this.api, () => ({}), e => this.onEvent(e)).start();
    // Clusters' nodes boot and stop without a workspace event: look again.
    this.clusterTimer = window.setInterval(() => {
      if (this.tab === 'compute' && !this.runView && this.compute.hasCluster && document.visibilityState === 'visible') {
        void this.compute.refresh();
      }
    }, 5000);
  }

  dispose(): void {
    window.clearInterval(this.clusterTimer);
    this.stream?.close();
    this.runView?.dispose();
    this.runs.dispose();
  }

  show(t: Tab): void {
    this.runView?.dispose();
    this.runView = null;
    this.tab = t;
    for (const [k, b] of Object.entries(this.tabs)) {
      b.setAttribute('aria-selected', String(k === t));
    }
    const view = { compute: this.compute, runs: this.runs, models: this.models }[t];
    this.body.replaceChildren(view.node);
    if (t === 'compute') {
      void this.compute.refresh();
    } else if (t === 'runs') {
      void this.runs.options();
      void this.runs.load(false);
    } else {
      void this.models.refresh();
    }
  }

  openRun(id: string): void {
    this.runView?.dispose();
    for (const b of Object.values(this.tabs)) {
      b.setAttribute('aria-selected', String(b.dataset.tab === 'runs'));
    }
    this.tab = 'runs';
    const view = new RunView(this.api, this.host, id, () => this.show('runs'), this.workspaceDir);
    this.runView = view;
    this.body.replaceChildren(view.node);
    void view.start();
  }

  private onEvent(e: ServerEvent): void {
    if (e.event === 'change') {
      this.runs.onChange(e.data);
    }
    if (e.event === 'targets' || (e.event === 'change' && this.tab === 'compute')) {
      // Targets show their runs by state: reload, at most every 300 ms.
      window.clearTimeout(this.refreshTargets);
      this.refreshTargets = window.setTimeout(() => {
        if (this.tab === 'compute' && !this.runView) {
          void this.compute.refresh();
        }
        if (e.event === 'targets') {
          void this.runs.options();
        }
      }, 300);
    }
  }
}

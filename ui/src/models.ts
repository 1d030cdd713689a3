// The Models view: registered models, their versions and the runs they
// came from.

import { Api } from './api';
import { h, shortID, when } from './dom';

export class ModelsView {
  readonly node = h('div', { class: 'gantry-models' });

  constructor(
    private api: Api,
    private open: (runID: string) => void
  ) {}

  async refresh(): Promise<void> {
    let models;
    try {
      models = await this.api.models();
    } catch (e) {
      this.node.replaceChildren(h('div', { class: 'gantry-error' }, (e as Error).message));
      return;
    }
    if (models.length === 0) {
      this.node.replaceChildren(h('p', { class: 'gantry-empty' }, 'No models yet: %model register RUN_ID NAME PATH keeps one.'));
      return;
    }
    this.node.replaceChildren(
      h(
        'table',
        { class: 'gantry-table' },
        h('thead', {}, h('tr', {}, ['name', 'version', 'run', 'path', 'registered'].map(c => h('th', {}, c)))),
        h(
          'tbody',
          {},
          models.map(m =>
            h(
              'tr',
              { dataset: { model: m.name } },
              h('td', {}, m.name),
              h('td', {}, m.version),
              h('td', {}, m.run_id ? h('button', { class: 'gantry-link', onclick: () => this.open(m.run_id) }, shortID(m.run_id)) : ''),
              h('td', {}, h('code', {}, m.path)),
              h('td', {}, when(m.created))
            )
          )
        )
      )
    );
  }
}

// The Compute view: the workspace's targets, clusters' nodes by state and
// queued runs, and the forms that add, change and remove targets.

import { Api, Size, Target } from './api';
import { errorBox, h, Host } from './dom';

const nodeStates = ['powered down', 'booting', 'idle', 'busy', 'draining', 'powering down', 'down'];

export class ComputeView {
  readonly node = h('div', { class: 'gantry-compute' });
  private list = h('div', { class: 'gantry-targets' });
  private sizes: Size[] = [];
  private loading: Promise<void> | null = null;
  /** Whether a managed cluster is shown, whose nodes change without events. */
  hasCluster = false;

  constructor(
    private api: Api,
    private host: Host
  ) {
    this.node.append(this.list, this.form());
  }

  /** Reloads the targets (at most one load at a time). */
  refresh(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => (this.loading = null));
    }
    return this.loading;
  }

  private async load(): Promise<void> {
    let targets: Target[];
    try {
      targets = await this.api.targets();
    } catch (e) {
      this.list.replaceChildren(h('div', { class: 'gantry-error' }, String((e as Error).message)));
      return;
    }
    if (targets.length === 0) {
      this.list.replaceChildren(
        h('p', { class: 'gantry-empty' }, 'No compute targets yet. Add this machine below to run scripts on it.')
      );
      return;
    }
    this.hasCluster = targets.some(t => t.kind === 'slurm');
    this.list.replaceChildren(...targets.map(t => this.card(t)));
  }

  private card(t: Target): HTMLElement {
    const runs = Object.entries(t.runs)
      .map(([st, n]) => `${n} ${st.toLowerCase()}`)
      .join(' · ');
    const err = errorBox();
    const actions = h('div', { class: 'gantry-actions' });
    const card = h(
      'div',
      { class: 'gantry-target', dataset: { target: t.name } },
      h(
        'div',
        { class: 'gantry-target-head' },
        h('b', {}, t.name),
        h('span', { class: 'gantry-kind' }, t.kind === 'slurm' ? 'cluster' : t.kind),
        h('span', { class: `gantry-prov gantry-prov-${t.state}` }, t.state)
      ),
      h('div', { class: 'gantry-target-info' }, describe(t)),
      h('div', { class: 'gantry-target-runs' }, runs || 'no runs waiting or running'),
      t.cluster ? this.nodes(t) : null,
      t.cluster_error ? h('div', { class: 'gantry-error' }, t.cluster_error) : null,
      actions,
      err
    );
    const act = (label: string, title: string, body: string, fn: () => Promise<unknown>) =>
      h(
        'button',
        {
          class: 'gantry-button gantry-danger',
          onclick: async () => {
            if (!(await this.host.confirm(title, body, label))) {
              return;
            }
            err.clear();
            try {
              await fn();
              await this.refresh();
            } catch (e) {
              err.show(e);
            }
          }
        },
        label
      );
    if (t.kind === 'slurm') {
      actions.append(this.resize(t, err));
    }
    if (t.kind === 'ssh') {
      actions.append(
        act('Detach', `Detach ${t.name}?`, 'The workspace forgets the machine; the machine itself is left as it is.', () =>
          this.api.detachTarget(t.name)
        )
      );
    } else {
      const what =
        t.kind === 'slurm'
          ? 'Its runs are canceled in Slurm and its nodes released.'
          : 'Runs that used it keep its name.';
      actions.append(act('Delete', `Delete ${t.name}?`, what, () => this.api.deleteTarget(t.name)));
    }
    return card;
  }

  private nodes(t: Target): HTMLElement {
    const c = t.cluster!;
    const chips = nodeStates
      .filter(s => c.counts[s] || ['powered down', 'booting', 'idle', 'busy'].includes(s))
      .map(s => h('span', { class: `gantry-node gantry-node-${s.replace(' ', '-')}` }, `${c.counts[s] || 0} ${s}`));
    return h(
      'div',
      { class: 'gantry-cluster' },
      h('div', { class: 'gantry-nodes' }, chips),
      h('div', {}, `${c.queued} queued, ${c.running} running`),
      h('details', {}, h('summary', {}, `${c.nodes.length} nodes`), h('ul', {}, c.nodes.map(n => h('li', {}, `${n.name}: ${n.state} (${n.slurm})`))))
    );
  }

  private resize(t: Target, err: ReturnType<typeof errorBox>): HTMLElement {
    const min = h('input', { type: 'number', min: 0, value: String(t.config.min_nodes ?? 0), class: 'gantry-small', 'aria-label': 'min nodes' });
    const max = h('input', { type: 'number', min: 1, value: String(t.config.max_nodes ?? 1), class: 'gantry-small', 'aria-label': 'max nodes' });
    return h(
      'span',
      { class: 'gantry-resize' },
      'nodes ',
      min,
      ' to ',
      max,
      h(
        'button',
        {
          class: 'gantry-button',
          onclick: async () => {
            err.clear();
            try {
              await this.api.updateTarget(t.name, { min_nodes: Number(min.value), max_nodes: Number(max.value) });
              await this.refresh();
            } catch (e) {
              err.show(e);
            }
          }
        },
        'Update'
      )
    );
  }

  /** The form that adds a target of the kind chosen. */
  private form(): HTMLElement {
    const err = errorBox();
    const fields = h('div', { class: 'gantry-fields' });
    const kind = h(
      'select',
      { name: 'kind', 'aria-label': 'kind' },
      h('option', { value: 'local' }, 'This machine (local)'),
      h('option', { value: 'ssh' }, 'A machine over SSH'),
      h('option', { value: 'cluster' }, 'A managed cluster (Slurm)')
    );
    const input = (name: string, label: string, attrs: Record<string, any> = {}) =>
      h('label', {}, h('span', {}, label), h('input', { name, ...attrs }));
    const show = () => {
      const k = kind.value;
      const rows: HTMLElement[] = [input('name', 'Name', { placeholder: '2-16 letters, digits, hyphens', required: true })];
      if (k === 'local') {
        rows.push(input('max_concurrent_runs', 'Max concurrent runs', { type: 'number', min: 0, placeholder: '0: no cap' }));
      } else if (k === 'ssh') {
        rows.push(
          input('address', 'Address', { placeholder: 'host name or IP' }),
          input('port', 'Port', { type: 'number', placeholder: '22' }),
          input('user', 'User'),
          input('key_file', 'Private key file', { placeholder: '~/.ssh/id_ed25519' }),
          input('passphrase', 'Key passphrase', { type: 'password', autocomplete: 'off' }),
          input('password', 'Password (instead of a key)', { type: 'password', autocomplete: 'off' }),
          input('known_hosts', 'known_hosts file', { placeholder: '~/.ssh/known_hosts' })
        );
      } else {
        const size = h('select', { name: 'vm_size' }, this.sizes.map(s => h('option', { value: s.name }, sizeLabel(s))));
        rows.push(
          h('label', {}, h('span', {}, 'Size'), size),
          input('min_nodes', 'Min nodes', { type: 'number', min: 0, value: '0' }),
          input('max_nodes', 'Max nodes', { type: 'number', min: 1, value: '2' }),
          h(
            'label',
            {},
            h('span', {}, 'Priority'),
            h('select', { name: 'vm_priority' }, h('option', { value: 'dedicated' }, 'dedicated'), h('option', { value: 'lowpriority' }, 'low priority'))
          ),
          input('idle_seconds', 'Idle seconds before scale-down', { type: 'number', min: 0, placeholder: '120' })
        );
      }
      fields.replaceChildren(...rows);
      err.clear();
    };
    kind.addEventListener('change', async () => {
      if (kind.value === 'cluster' && this.sizes.length === 0) {
        this.sizes = await this.api.sizes().catch(() => []);
      }
      show();
    });
    show();
    const form = h(
      'form',
      {
        class: 'gantry-form',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          err.clear();
          const body: Record<string, unknown> = { kind: kind.value };
          for (const el of Array.from(fields.querySelectorAll('input, select')) as HTMLInputElement[]) {
            if (el.value === '') {
              continue;
            }
            body[el.name] = el.type === 'number' ? Number(el.value) : el.value;
          }
          const button = form.querySelector('button[type=submit]') as HTMLButtonElement;
          button.disabled = true;
          try {
            await this.api.createTarget(body);
            show();
            await this.refresh();
          } catch (e) {
            err.show(e);
          } finally {
            button.disabled = false;
          }
        }
      },
      h('h3', {}, 'Add compute'),
      h('label', {}, h('span', {}, 'Kind'), kind),
      fields,
      err,
      h('button', { type: 'submit', class: 'gantry-button gantry-primary' }, 'Create')
    );
    return form;
  }
}

/** A line that says what a target is. */
function describe(t: Target): string {
  const c = t.config;
  switch (t.kind) {
    case 'local':
      return c.max_concurrent_runs ? `this machine, at most ${c.max_concurrent_runs} runs at once` : 'this machine';
    case 'ssh': {
      const auth = c.key_file ? `key ${c.key_file}` : c.password_env ? `password from $${c.password_env}` : 'password (asked)';
      return `${c.user}@${c.address}${c.port ? ':' + c.port : ''}, ${auth}${c.slurm ? ', Slurm login node' : ''}`;
    }
    default: {
      const size = c.vm_size ? sizeLabel(c.vm_size) : '';
      const shared = c.nodes_of ? `, nodes of ${c.nodes_of}` : '';
      return `${size}, ${c.min_nodes}-${c.max_nodes} nodes, ${c.vm_priority}, idle ${c.idle_seconds_before_scaledown}s${shared}`;
    }
  }
}

function sizeLabel(s: Size): string {
  return `${s.name} (${s.cpus} CPU, ${Math.round(s.memory_mb / 1024)} GiB${s.gpus ? `, ${s.gpus} GPU` : ''})`;
}

// Small helpers for building the views' DOM and formatting what they show.

type Child = Node | string | number | null | undefined | false;

/** h builds an element: h('div', {class: 'x', onclick: f}, child, ...). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, any> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k in el && typeof v !== 'string') {
      (el as any)[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) {
      append(el, c);
    } else if (c !== null && c !== undefined && c !== false) {
      el.append(typeof c === 'number' ? String(c) : c);
    }
  }
}

/** A run's state as a badge, coloured by what it means. */
export function badge(state: string): HTMLElement {
  return h('span', { class: `gantry-badge gantry-state-${state}`, dataset: { state } }, state);
}

/** A duration in words: 850ms, 8.2s, 1m 32s, 2h 5m. */
export function duration(ms: number): string {
  if (ms < 1000) {
    return `${Math.max(0, Math.round(ms))}ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m ${Math.round(s - m * 60)}s`;
  }
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** A time of day, with the date when it is not today. */
export function when(ms: number | null): string {
  if (!ms) {
    return '';
  }
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/** A metric value, short. */
export function metric(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return 'NaN';
  }
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

export function shortID(id: string): string {
  return id.slice(0, 8);
}

/** An element that shows an API error inline, or nothing. */
export function errorBox(): HTMLElement & { show(e: unknown): void; clear(): void } {
  const el = h('div', { class: 'gantry-error', role: 'alert', hidden: true }) as any;
  el.show = (e: unknown) => {
    el.textContent = e instanceof Error ? e.message : String(e);
    el.hidden = false;
  };
  el.clear = () => {
    el.textContent = '';
    el.hidden = true;
  };
  return el;
}

/** What a view needs from the page around it. */
export interface Host {
  /** Asks the person to confirm a destructive action. */
  confirm(title: string, body: string, action: string): Promise<boolean>;
  /** Copies text to the clipboard. */
  copy(text: string): Promise<void>;
}

// The client of `gantry serve`'s API (see `go doc gantry/serve`), shared by
// the JupyterLab panel and the page of `gantry ui`. Only how a request
// reaches the server differs between them: a Fetcher.

/** Sends a request to the API; path is relative to the server's root ("api/runs"). */
export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>;

export interface Target {
  name: string;
  kind: 'local' | 'ssh' | 'slurm';
  state: string;
  created: number;
  updated: number;
  config: Record<string, any>;
  runs: Record<string, number>;
  cluster?: {
    nodes: { name: string; state: string; slurm: string }[];
    counts: Record<string, number>;
    queued: number;
    running: number;
  };
  cluster_error?: string;
}

export interface Run {
  id: string;
  experiment: string;
  parent?: string;
  target: string;
  state: string;
  final: boolean;
  exit_code: number | null;
  created: number;
  prepared: number | null;
  started: number | null;
  ended: number | null;
  elapsed_ms: number;
  preparing_ms: number;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

export interface RunEvent {
  time: number;
  from: string;
  to: string;
  reason: string;
}

export interface Series {
  steps: number[];
  values: (number | null)[];
  times: number[];
}

export interface Model {
  name: string;
  version: number;
  run_id: string;
  path: string;
  tags: Record<string, string>;
  created: number;
}

export interface Size {
  name: string;
  cpus: number;
  memory_mb: number;
  gpus?: number;
}

/** An error the API answered with: its message is the SDK's. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

export class Api {
  constructor(readonly fetcher: Fetcher) {}

  /** The URL of path for links (downloads), as the fetcher reaches it. */
  url = (path: string): string => path;

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    let resp: Response;
    try {
      resp = await this.fetcher(path, init);
    } catch (e) {
      throw new ApiError(`Gantry's server cannot be reached: ${e}`, 0);
    }
    const text = await resp.text();
    let body: any = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: text || resp.statusText };
    }
    if (!resp.ok) {
      throw new ApiError(body.error || `${resp.status} ${resp.statusText}`, resp.status);
    }
    return body as T;
  }

  private send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.json<T>(path, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-Gantry': '1' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
  }

  workspace = () => this.json<{ dir: string }>('api/workspace');
  targets = () => this.json<{ targets: Target[] }>('api/targets').then(r => r.targets);
  sizes = () => this.json<{ sizes: Size[] }>('api/sizes').then(r => r.sizes);
  experiments = () => this.json<{ experiments: string[] }>('api/experiments').then(r => r.experiments);
  createTarget = (body: Record<string, unknown>) => this.send<{ target: Target }>('POST', 'api/targets', body);
  updateTarget = (name: string, body: Record<string, unknown>) =>
    this.send<{ target: Target }>('PATCH', `api/targets/${encodeURIComponent(name)}`, body);
  deleteTarget = (name: string) => this.send('DELETE', `api/targets/${encodeURIComponent(name)}`);
  detachTarget = (name: string) => this.send('POST', `api/targets/${encodeURIComponent(name)}/detach`);

  runs = (q: Record<string, string>) =>
    this.json<{ runs: Run[]; next: string }>('api/runs?' + new URLSearchParams(q).toString());
  run = (id: string) => this.json<{ run: Run; events: RunEvent[]; files: string[] }>(`api/runs/${id}`);
  metrics = (id: string) => this.json<{ series: Record<string, Series>; seq: number }>(`api/runs/${id}/metrics`);
  cancel = (id: string) => this.send('POST', `api/runs/${id}/cancel`);
  resubmit = (id: string) => this.send<{ run: Run }>('POST', `api/runs/${id}/resubmit`);
  models = () => this.json<{ models: Model[] }>('api/models').then(r => r.models);
  fileURL = (id: string, name: string) => this.url(`api/runs/${id}/files/${name.split('/').map(encodeURIComponent).join('/')}`);

  /** The run's log from its last `tail` bytes (from a line's start); next is where to continue. */
  async logTail(id: string, tail: number): Promise<{ text: string; next: number }> {
    const resp = await this.fetcher(`api/runs/${id}/logs?tail=${tail}`);
    if (!resp.ok) {
      throw new ApiError((await resp.text()) || resp.statusText, resp.status);
    }
    return { text: await resp.text(), next: Number(resp.headers.get('Gantry-Log-Next') || 0) };
  }
}

/** A server-sent event. */
export interface ServerEvent {
  event: string;
  data: any;
}

/**
 * An event stream from api/events that reconnects by itself, resuming
 * after the last state change it saw. It reads the stream with fetch, so
 * the same Fetcher (and its authentication) serves it.
 */
export class EventStream {
  private abort = new AbortController();
  private seq = -1;
  private closed = false;

  constructor(
    private api: Api,
    private query: () => Record<string, string>,
    private onEvent: (e: ServerEvent) => void
  ) {}

  start(): this {
    void this.loop();
    return this;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      try {
        const q = this.query();
        if (this.seq >= 0) {
          q.since = String(this.seq);
        }
        const resp = await this.api.fetcher('api/events?' + new URLSearchParams(q).toString(), {
          headers: { Accept: 'text/event-stream' },
          signal: this.abort.signal
        });
        if (!resp.ok || !resp.body) {
          throw new Error(`${resp.status}`);
        }
        await this.read(resp.body);
      } catch {
        // fall through: retry
      }
      if (!this.closed) {
        await new Promise(r => setTimeout(r, 1000));
      }
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buf += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) {
            event = line.slice(7);
          } else if (line.startsWith('data: ')) {
            data += line.slice(6);
          }
        }
        if (!data) {
          continue;
        }
        const parsed = JSON.parse(data);
        if (event === 'hello' && this.seq < 0) {
          this.seq = parsed.seq;
        } else if (event === 'change') {
          this.seq = Math.max(this.seq, parsed.seq);
        }
        this.onEvent({ event, data: parsed });
      }
    }
  }
}

/**
 * Prometheus metrics and health endpoints. Every metric is an entry of the catalogue
 * (`catalogue.ts`): its name, type, help and label names are written there once, and the compiler
 * checks the labels at each call site — bounded sets, never a token, IP or key.
 */
import { createServer, type Server } from 'node:http';
import type { MetricDef } from './catalogue.js';

type Labels = Record<string, string>;

interface Series {
  def: MetricDef;
  values: Map<string, { labels: Labels; value: number }>;
}

const labelKey = (l: Labels) =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');

export class Metrics {
  private readonly series = new Map<string, Series>();

  private get(def: MetricDef): Series {
    let s = this.series.get(def.name);
    if (!s) {
      s = { def, values: new Map() };
      this.series.set(def.name, s);
    }
    return s;
  }

  /** Adds `by` to a counter. */
  inc<L extends string>(def: MetricDef<L, 'counter'>, labels: Record<L, string> = {} as Record<L, string>, by = 1): void {
    const s = this.get(def);
    const k = labelKey(labels);
    const v = s.values.get(k);
    if (v) v.value += by;
    else s.values.set(k, { labels, value: by });
  }

  /** Sets a gauge. */
  set<L extends string>(def: MetricDef<L, 'gauge'>, labels: Record<L, string>, value: number): void {
    this.get(def).values.set(labelKey(labels), { labels, value });
  }

  /** The current value of a series (a catalogue entry or its name); 0 when never set. */
  value(metric: MetricDef | string, labels: Labels = {}): number {
    return this.series.get(typeof metric === 'string' ? metric : metric.name)?.values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, s] of this.series) {
      out.push(`# HELP ${name} ${s.def.help}`, `# TYPE ${name} ${s.def.type}`);
      for (const { labels, value } of s.values.values()) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
          .join(',');
        out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    }
    return out.join('\n') + '\n';
  }
}

/** Serves /metrics, /healthz (process alive) and /readyz (connected and consuming). */
export function serveMetrics(metrics: Metrics, port: number, ready: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics.render());
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (url === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}

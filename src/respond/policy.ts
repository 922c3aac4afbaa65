/**
 * Response policy (DESIGN §6): decides for each finding whether it is only alerted, revoked,
 * shadow-revoked or suppressed by the never-revoke allowlist, and guards revocations with a circuit
 * breaker that caps them per minute (globally and per tenant). The clock is injected.
 */
import { z } from 'zod';
import type { AlertAction } from '../../schemas/alert.js';
import { SEVERITIES, type Severity } from '../../schemas/denylist.js';
import type { DetectorFinding } from '../detect/engine.js';
import { CidrSet } from '../ingest/net.js';

/** Response-policy part of the config file. */
export const ResponseConfigSchema = z
  .object({
    actions: z
      .record(z.string(), z.enum(['alert', 'revoke', 'off']))
      .default({})
      .describe('per-detector action override: alert | revoke | off'),
    minSeverityToRevoke: z
      .enum(SEVERITIES)
      .default('high')
      .describe('findings below this severity are never revoked, only alerted'),
    allowlist: z
      .object({
        subjects: z.array(z.string()).default([]).describe('subjects never revoked'),
        keyIds: z.array(z.string()).default([]).describe('API key ids never revoked'),
        clientIds: z.array(z.string()).default([]).describe('OAuth client ids never revoked'),
        cidrs: z.array(z.string()).default([]).describe('client CIDRs never revoked'),
      })
      .strict()
      .default({ subjects: [], keyIds: [], clientIds: [], cidrs: [] }),
    breaker: z
      .object({
        maxRevocationsPerMin: z.number().int().min(1).default(100).describe('global cap on revocations per minute'),
        maxRevocationsPerTenantPerMin: z.number().int().min(1).default(30).describe('per-tenant cap per minute'),
        coolDownSec: z.number().int().min(0).default(600).describe('time alert-only lasts after a trip (0: until reset)'),
      })
      .strict()
      .default({ maxRevocationsPerMin: 100, maxRevocationsPerTenantPerMin: 30, coolDownSec: 600 }),
  })
  .strict();

export type ResponseConfig = z.infer<typeof ResponseConfigSchema>;


const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

export interface Decision {
  action: AlertAction;
  /** why the action is what it is (recorded in the alert's evidence) */
  reasons: string[];
}

export interface BreakerTrip {
  scope: 'global' | 'tenant';
  tenant?: string;
  count: number;
  limit: number;
  atMs: number;
  untilMs: number | null;
}

export interface BreakerState {
  open: boolean;
  openedAtMs?: number;
  untilMs?: number | null;
  reason?: string;
}

/** Counts revocations per minute and opens when a cap is passed. */
export class CircuitBreaker {
  private global: number[] = [];
  private perTenant = new Map<string, number[]>();
  private state: BreakerState = { open: false };

  constructor(private readonly cfg: ResponseConfig['breaker']) {}

  get status(): BreakerState {
    return { ...this.state };
  }

  isOpen(nowMs: number): boolean {
    if (this.state.open && this.state.untilMs != null && nowMs >= this.state.untilMs) this.reset();
    return this.state.open;
  }

  /** Takes over an open state published on the control topic (another instance's trip, or one from before a restart). */
  restore(s: BreakerState): void {
    this.state = s.open ? { open: true, openedAtMs: s.openedAtMs, untilMs: s.untilMs ?? null, reason: s.reason } : { open: false };
  }

  reset(): void {
    this.state = { open: false };
    this.global = [];
    this.perTenant.clear();
  }

  /**
   * Asks to revoke one more finding for `tenant` at `nowMs`. Returns undefined when allowed, or the
   * trip that opened the breaker (the finding must then fall back to alert-only).
   */
  admit(tenant: string, nowMs: number): BreakerTrip | undefined {
    const since = nowMs - 60_000;
    this.global = this.global.filter((t) => t > since);
    const tl = (this.perTenant.get(tenant) ?? []).filter((t) => t > since);
    const untilMs = this.cfg.coolDownSec > 0 ? nowMs + this.cfg.coolDownSec * 1000 : null;
    if (this.global.length + 1 > this.cfg.maxRevocationsPerMin) {
      return this.trip({ scope: 'global', count: this.global.length + 1, limit: this.cfg.maxRevocationsPerMin, atMs: nowMs, untilMs });
    }
    if (tl.length + 1 > this.cfg.maxRevocationsPerTenantPerMin) {
      return this.trip({ scope: 'tenant', tenant, count: tl.length + 1, limit: this.cfg.maxRevocationsPerTenantPerMin, atMs: nowMs, untilMs });
    }
    this.global.push(nowMs);
    tl.push(nowMs);
    this.perTenant.set(tenant, tl);
    return undefined;
  }

  private trip(t: BreakerTrip): BreakerTrip {
    this.state = {
      open: true,
      openedAtMs: t.atMs,
      untilMs: t.untilMs,
      reason: t.scope === 'global' ? `more than ${t.limit} revocations/min` : `tenant ${t.tenant}: more than ${t.limit} revocations/min`,
    };
    return t;
  }
}

export interface PolicyOptions {
  response: ResponseConfig;
  shadow: boolean;
}

export class ResponsePolicy {
  readonly breaker: CircuitBreaker;
  private readonly allowCidrs: CidrSet;
  private readonly allowSubjects: Set<string>;
  private readonly allowKeys: Set<string>;
  private readonly allowClients: Set<string>;

  constructor(private readonly opts: PolicyOptions) {
    this.breaker = new CircuitBreaker(opts.response.breaker);
    const a = opts.response.allowlist;
    this.allowCidrs = new CidrSet(a.cidrs);
    this.allowSubjects = new Set(a.subjects);
    this.allowKeys = new Set(a.keyIds);
    this.allowClients = new Set(a.clientIds);
  }

  /** The configured action of a detector: the config override, else the detector's default. */
  detectorAction(detectorId: string, defaultAction: 'alert' | 'revoke'): 'alert' | 'revoke' | 'off' {
    return this.opts.response.actions[detectorId] ?? defaultAction;
  }

  private allowlistMatch(f: DetectorFinding): string | undefined {
    const c = f.trigger.cred;
    if (c.sub && this.allowSubjects.has(c.sub)) return `subject ${c.sub}`;
    if (c.key_id && this.allowKeys.has(c.key_id)) return `key_id ${c.key_id}`;
    if (c.client_id && this.allowClients.has(c.client_id)) return `client_id ${c.client_id}`;
    for (const ip of f.ips.length ? f.ips : [f.trigger.ip]) {
      const m = this.allowCidrs.match(ip);
      if (m) return `cidr ${m}`;
    }
    return undefined;
  }

  /**
   * Decides the action of one finding. `trip` is set when this finding tripped the breaker (the
   * caller writes the critical breaker alert once).
   */
  decide(f: DetectorFinding, nowMs: number): Decision & { trip?: BreakerTrip } {
    const configured = this.detectorAction(f.detector.meta.id, f.detector.meta.defaultAction);
    if (f.revocations.length === 0 || f.alertOnly) return { action: 'alert', reasons: ['finding is alert-only'] };
    if (configured !== 'revoke') return { action: 'alert', reasons: [`detector action is ${configured}`] };
    const min = this.opts.response.minSeverityToRevoke;
    if (SEVERITY_RANK[f.severity] < SEVERITY_RANK[min]) {
      return { action: 'alert', reasons: [`severity ${f.severity} below minSeverityToRevoke ${min}`] };
    }
    const allow = this.allowlistMatch(f);
    if (allow) return { action: 'suppressed', reasons: [`never-revoke allowlist: ${allow}`] };
    if (this.opts.shadow) return { action: 'shadow_revoke', reasons: ['shadow mode (TOKENWATCH_SHADOW)'] };
    if (this.breaker.isOpen(nowMs)) {
      return { action: 'alert', reasons: [`revocation circuit breaker open: ${this.breaker.status.reason}`] };
    }
    const trip = this.breaker.admit(f.trigger.tenant ?? '', nowMs);
    if (trip) return { action: 'alert', reasons: [`revocation circuit breaker tripped: ${this.breaker.status.reason}`], trip };
    return { action: 'revoke', reasons: [] };
  }
}

/**
 * The denylist bridge: library entry point. A Node service can check credentials against the
 * denylist in process, without a sidecar:
 *
 * ```ts
 * import { createDenylistChecker } from 'tokenwatch/bridge';
 * const checker = createDenylistChecker({ brokers: 'kafka:9092', topic: 'auth.denylist', fpKey: process.env.TOKENWATCH_FP_KEY });
 * await checker.ready;
 * const r = checker.check({ authorization: req.headers.authorization, sid: session.id });
 * ```
 *
 * `serveBridge` is the HTTP server behind `tokenwatch denylist-server`.
 */
export { createDenylistChecker, toQuery, type CheckInput, type DenylistChecker, type DenylistCheckerOptions, type CheckerBus } from './checker.js';
export { DenylistStore, SCOPES, type CheckQuery, type CheckResult, type DenyEntry, type Scope, type ApplyOutcome } from './store.js';
export { TopicFollower, type FollowerOptions, type FollowerBus } from '../io/follower.js';
export { serveBridge, checkInputFromRequest, CHECK_HEADERS, type BridgeServerOptions } from './server.js';

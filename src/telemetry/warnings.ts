/**
 * Process warnings: kafkajs 2.2 computes a negative timer delay on Node ≥ 23, which Node reports as
 * a TimeoutNegativeWarning (the timer fires after 1 ms, as kafkajs intends). That one warning is
 * noise; every other warning is still printed.
 */
export function quietKnownWarnings(): void {
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name === 'TimeoutNegativeWarning') return;
    if (listeners.length) for (const l of listeners) l(w);
    else process.stderr.write(`${w.name}: ${w.message}\n`);
  });
}

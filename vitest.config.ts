import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'detectors/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one broker and one ClickHouse; each uses its own topics and database.
    fileParallelism: false,
    reporters: ['default'],
  },
});

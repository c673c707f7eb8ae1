// graphile-worker draining no-op jobs: the yardstick beside cophub's outbox
// bench (hub-core/benches/outbox_throughput.rs); scripts/bench-outbox runs both.
//
// On an empty PostgreSQL database (DATABASE_URL): graphile-worker installs its
// schema, BENCH_JOBS jobs of a no-op task are added with `addJobs` (its bulk
// way; timed as the enqueue, not the measure), then one worker with
// BENCH_CONCURRENCY concurrent jobs runs until every job has run and is
// completed (deleted) in the database. Prints raw lines in the form the
// cophub bench prints, and fails when a job ran twice, never ran, or is left.
//
// The worker uses graphile-worker's documented performance settings
// (https://worker.graphile.org/docs/performance): a local queue of 500 jobs
// fetched in one go, and job completions batched (`completeJobBatchDelay: 0`,
// `failJobBatchDelay: 0`). BENCH_LOCAL_QUEUE and BENCH_COMPLETE_BATCH_DELAY
// change them (-1 turns either off: graphile-worker's defaults).
"use strict";

const { performance } = require("node:perf_hooks");
const { makeWorkerUtils, run, runMigrations } = require("graphile-worker");

function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive whole number (got '${raw}')`);
  }
  return value;
}

function integer(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) {
    throw new Error(`${name} must be a whole number (got '${raw}')`);
  }
  return value;
}

async function main() {
  const connectionString = process.env.DATABASE_URL;
  if (!connectionString) throw new Error("DATABASE_URL names the (empty) database to use");
  const jobs = positive("BENCH_JOBS", 20000);
  const concurrency = positive("BENCH_CONCURRENCY", 8);
  const localQueue = integer("BENCH_LOCAL_QUEUE", 500);
  const batchDelay = integer("BENCH_COMPLETE_BATCH_DELAY", 0);
  const version = require("graphile-worker/package.json").version;
  // Quiet: warnings and errors only, so the output is the measurement.
  const { Logger } = require("graphile-worker");
  const logger = new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") console.error(`[graphile-worker ${level}] ${message}`);
  });

  console.log(
    `outbox_throughput: system=graphile-worker@${version} backend=postgres jobs=${jobs} concurrency=${concurrency} ` +
      `task=no-op localQueue.size=${localQueue} completeJobBatchDelay=${batchDelay} failJobBatchDelay=${batchDelay} ` +
      `maxPoolSize=${Math.max(10, concurrency + 2)} node=${process.version}`,
  );

  await runMigrations({ connectionString, logger });
  const utils = await makeWorkerUtils({ connectionString, logger });
  try {
    // Enqueue: addJobs in chunks of 10,000 (one statement each).
    const enqueueStart = performance.now();
    for (let first = 0; first < jobs; first += 10000) {
      const specs = [];
      for (let i = first; i < Math.min(jobs, first + 10000); i++) {
        specs.push({ identifier: "noop", payload: { n: i } });
      }
      await utils.addJobs(specs);
    }
    const enqueueSeconds = (performance.now() - enqueueStart) / 1000;
    const queued = await count(utils);
    if (queued !== jobs) throw new Error(`expected ${jobs} jobs queued, found ${queued}`);
    console.log(`enqueue: ${enqueueSeconds.toFixed(3)} s (${rate(jobs, enqueueSeconds)} jobs/s, addJobs in chunks of 10000)`);

    // Drain: from starting the worker until the last job is completed in the
    // database (the graceful stop flushes the batched completions).
    const seen = new Uint8Array(jobs);
    let ran = 0;
    let twice = 0;
    let done;
    const allRan = new Promise((resolve) => (done = resolve));
    let firstRun = 0;
    let lastRun = 0;
    const drainStart = performance.now();
    const runner = await run({
      connectionString,
      logger,
      concurrency,
      maxPoolSize: Math.max(10, concurrency + 2),
      noHandleSignals: true,
      pollInterval: 2000,
      taskList: {
        // The no-op task: it only notes which job it was handed.
        noop: async (payload) => {
          if (ran === 0) firstRun = performance.now();
          if (seen[payload.n]++) twice++;
          ran++;
          if (ran === jobs) {
            lastRun = performance.now();
            done();
          }
        },
      },
      preset: {
        worker: {
          localQueue: { size: localQueue },
          completeJobBatchDelay: batchDelay,
          failJobBatchDelay: batchDelay,
        },
      },
    });
    const started = performance.now();
    await allRan;
    await runner.stop();
    await runner.promise;
    const drainSeconds = (performance.now() - drainStart) / 1000;
    const left = await count(utils);
    console.log(`startup: ${((started - drainStart) / 1000).toFixed(3)} s (run() until it resolved; inside the drain)`);
    console.log(`drain: ${drainSeconds.toFixed(3)} s (worker start until every job completed in the database)`);
    console.log(
      `first to last job run: ${((lastRun - firstRun) / 1000).toFixed(3)} s (${rate(jobs, (lastRun - firstRun) / 1000)} jobs/s)`,
    );
    console.log(`rate: ${rate(jobs, drainSeconds)} jobs/s`);
    const missing = seen.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    if (twice !== 0 || missing !== 0 || left !== 0 || ran !== jobs) {
      throw new Error(`check failed: ran ${ran}, twice ${twice}, never ${missing}, left in the database ${left}`);
    }
    console.log(`check: ${jobs} jobs ran exactly once each, 0 left in the database`);
    console.log(
      `result system=graphile-worker backend=postgres jobs=${jobs} concurrency=${concurrency} ` +
        `enqueue_s=${enqueueSeconds.toFixed(3)} drain_s=${drainSeconds.toFixed(3)} per_second=${rate(jobs, drainSeconds)}`,
    );
  } finally {
    await utils.release();
  }
}

async function count(utils) {
  return utils.withPgClient(async (client) => {
    const { rows } = await client.query("select count(*)::int as n from graphile_worker._private_jobs");
    return rows[0].n;
  });
}

function rate(n, seconds) {
  return (n / seconds).toFixed(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

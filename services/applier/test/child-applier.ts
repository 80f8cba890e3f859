/**
 * One applier as its own process (for the multi-instance test): the configuration comes as JSON
 * in APPLIER_CONFIG; SIGTERM finishes the batch, commits and leaves the group.
 */
import type { DirstreamConfig } from '@dirstream/config';
import { createLogger } from '@dirstream/logging';
import { runApplier } from '@dirstream/applier';

const config = JSON.parse(process.env.APPLIER_CONFIG ?? '{}') as DirstreamConfig;
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
process.once('SIGINT', () => controller.abort());
const logger = createLogger({ name: process.env.APPLIER_NAME ?? 'applier', level: process.env.APPLIER_TEST_LOG ?? 'warn' });
const result = await runApplier({ config, logger, signal: controller.signal }, {});
process.exitCode = result.ok ? 0 : 1;

/**
 * Produce requests stay under the broker's size limit: with one partition per topic, one large
 * group's edges (thousands of membership events) go to a single partition, and the broker refuses
 * a record batch above message.max.bytes (1 MiB by default). The sync must still succeed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPrivateDirectory, GROUPS, PEOPLE, type PrivateDirectory } from '../support/private-directory.ts';
import { createPipeline, describeResult, type Pipeline } from '../support/pipeline.ts';

let directory: PrivateDirectory;
let pipeline: Pipeline;
before(async () => {
  directory = await createPrivateDirectory('large-batches', { users: 6_000, groups: 3, largeGroups: 1, largeGroupSize: 6_000 });
  pipeline = await createPipeline({
    label: 'large-batches',
    infra: directory.infra,
    partitions: 1,
    profile: { users: { baseDn: PEOPLE }, groups: { baseDn: GROUPS } },
  });
});
after(async () => {
  await pipeline?.cleanup();
  await directory?.cleanup();
});

test('a 6,000-member group on one partition is produced and applied', async () => {
  const polled = await pipeline.runPoller(['--full'], { timeoutMs: 300_000 });
  assert.equal(polled.code, 0, describeResult(polled));
  await pipeline.applyUntilCaughtUp([], { timeoutMs: 300_000 });
  const [row] = await pipeline.query<{ n: string }>(
    `select count(*) as n from memberships m join groups g on g.profile_id = m.profile_id and g.external_id = m.group_id
      where m.present and g.description = 'large group'`,
  );
  assert.equal(Number(row?.n), 6_000);
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { createTestDatabase, loadInfra, type TestDatabase } from '@dirstream/testing';

const infra = loadInfra();
let database: TestDatabase;
let orm: MikroORM;

before(async () => {
  database = await createTestDatabase(infra, 'smoke');
  orm = await MikroORM.init({ clientUrl: database.url, entities: [], discovery: { warnWhenNoEntities: false } });
});
after(async () => {
  await orm.close(true);
  await database.drop();
});

test('MikroORM 7 connects to PostgreSQL and runs queries in its own database', async () => {
  const connection = orm.em.getConnection();
  const [row] = await connection.execute<{ db: string; major: number }[]>(
    `select current_database() as db, current_setting('server_version_num')::int / 10000 as major`,
  );
  assert.equal(row?.db, database.name);
  assert.ok((row?.major ?? 0) >= 13, `PostgreSQL ${row?.major} is too old`);
  await connection.execute('create table smoke (id int primary key, name text not null)');
  await orm.em.transactional(async (em) => {
    await em.getConnection().execute(`insert into smoke values (1, 'zoë'), (2, 'ana')`, [], 'run', em.getTransactionContext());
  });
  const rows = await connection.execute<{ name: string }[]>('select name from smoke order by id');
  assert.deepEqual(
    rows.map((r) => r.name),
    ['zoë', 'ana'],
  );
});

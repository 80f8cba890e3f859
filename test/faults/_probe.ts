import { changeDirectory, checkScenario, createFaultPipeline, createModel, newFigures, random, sleep } from './support.ts';
const users = Number(process.argv[2]); const full = process.argv[3] === 'full'; const wait = Number(process.argv[4] ?? 0);
const p = await createFaultPipeline('probe', { users, groups: 200, largeGroups: 2, largeGroupSize: Math.floor(users / 4) });
const figures = newFigures(); const model = createModel(); const touched = new Set<string>();
try {
  let r = await p.runPoller(['--full'], { timeoutMs: 600000 }); await p.applyUntilCaughtUp([], { timeoutMs: 600000 });
  await checkScenario(p, 'initial', model, { mayDisable: new Set(), mustDisable: new Set() }, figures);
  const done = await changeDirectory(p, { disable: 150, remove: 50, enable: 50, rename: 40, move: 40 }, random(5), touched);
  await sleep(wait);
  r = await p.runPoller(full ? ['--full'] : [], { timeoutMs: 600000 }); console.log('poll', r.code); await p.applyUntilCaughtUp([], { timeoutMs: 600000 });
  const may = new Set([...done.disabled, ...done.deleted]);
  try { await checkScenario(p, `mix ${full ? 'full' : 'delta'}`, model, { mayDisable: may, mustDisable: may }, figures); } catch (e) { console.log(String(e).slice(0, 1500)); }
} finally { await p.cleanup(); }

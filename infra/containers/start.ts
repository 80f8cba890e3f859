/**
 * The testcontainers provider (DIRSTREAM_INFRA=containers, hosts with a Docker engine): the same
 * three servers on the same loopback ports as the local provider, written to .dirstream/infra.json.
 * Not exercised on our CI machines, which have no Docker engine; the local provider is the default.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { containerSlapd, prepareLdif } from './prepare.ts';
import { INFRA_FILE, STATE_DIR } from '../local/paths.ts';

export async function startContainers(): Promise<() => Promise<void>> {
  const ldif = await prepareLdif();
  const started: StartedTestContainer[] = [];
  const postgres = await new GenericContainer('postgres:15')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts({ container: 5432, host: 35432 })
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  started.push(postgres);
  const kafka = await new GenericContainer('apache/kafka:3.9.1')
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:39092,CONTROLLER://0.0.0.0:39093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:39092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:39093',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    })
    .withExposedPorts({ container: 39092, host: 39092 })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  started.push(kafka);
  const openldap = await (await GenericContainer.fromDockerfile(resolve(import.meta.dirname, 'openldap')).build('dirstream-openldap:test'))
    .withBindMounts([{ source: ldif, target: '/ldif', mode: 'ro' }])
    .withExposedPorts({ container: 38389, host: 38389 })
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  started.push(openldap);
  mkdirSync(STATE_DIR, { recursive: true });
  const infra = {
    postgres: { url: 'postgres://postgres@127.0.0.1:35432/postgres' },
    kafka: { brokers: ['127.0.0.1:39092'] },
    openldap: {
      url: containerSlapd.url,
      suffix: containerSlapd.suffix,
      adminDn: containerSlapd.adminDn,
      adminPassword: containerSlapd.adminPassword,
      sampleBaseDn: `ou=sample,${containerSlapd.suffix}`,
    },
  };
  writeFileSync(INFRA_FILE, `${JSON.stringify(infra, null, 2)}\n`);
  return async () => {
    for (const container of started.reverse()) await container.stop();
  };
}

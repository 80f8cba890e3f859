/**
 * deploy/kubernetes, offline: every manifest validates against the Kubernetes OpenAPI schemas
 * (kubernetes-models; nothing reaches a cluster), and what the manifests say about dirstream
 * matches the code: the image built by infra/image, the CLI commands, the config file path, the
 * listeners' ports and probe paths, the secret files the config names, the security context.
 * (The schemas do not reject unknown fields, so the fields that matter are asserted here.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadConfigFromText } from '@dirstream/config';
import { parseAllDocuments } from 'yaml';
import { IMAGE_CONFIG_PATH, IMAGE_NAME, IMAGE_TAG, IMAGE_UID } from '../../infra/image/buildah.ts';
import { parseCommand } from '../../services/cli/src/args.ts';

const DIR = resolve(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');
const SECRETS_DIR = '/etc/dirstream/secrets';

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field
type Manifest = any;

function readManifests(): { file: string; doc: Manifest }[] {
  const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as { resources: string[] };
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.sort(), 'kustomization.yaml lists exactly the manifests of the folder');
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      return { file, doc: d.toJS() as Manifest };
    }),
  );
}

const manifests = readManifests();
const byKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const workload = (component: string): Manifest => {
  const found = manifests.find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.labels?.['app.kubernetes.io/component'] === component);
  assert.ok(found, `a Deployment for ${component}`);
  return found.doc;
};
const configMap = byKind('ConfigMap').find((c) => c.metadata.name === 'dirstream-config');
const secret = byKind('Secret').find((s) => s.metadata.name === 'dirstream-secrets');

async function loadManifestConfig() {
  const files = new Map<string, string>(Object.keys(secret.stringData).map((key) => [`${SECRETS_DIR}/${key}`, 'x']));
  return loadConfigFromText(configMap.data['dirstream.yaml'], {
    sourceName: 'deploy/kubernetes/configmap.yaml',
    env: {},
    readFile: async (path) => {
      const content = files.get(path);
      if (content === undefined) throw Object.assign(new Error(`${path} is not a key of the dirstream-secrets Secret`), { code: 'ENOENT' });
      return content;
    },
  });
}

test('every manifest validates against the Kubernetes OpenAPI schema of its kind', async () => {
  assert.ok(manifests.length >= 14, `only ${manifests.length} manifests`);
  for (const { file, doc } of manifests) {
    const group = doc.apiVersion as string;
    // kubernetes-models lays its classes out as <group>/<version>/<Kind> (core group: v1/<Kind>).
    const module = (await import(`kubernetes-models/${group}/${doc.kind}`)) as Record<string, new (d: unknown) => { validate(): void }>;
    const Model = module[doc.kind];
    assert.ok(Model, `${file}: no schema for ${group} ${doc.kind}`);
    assert.doesNotThrow(() => new Model(doc).validate(), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
});

test('the validation can fail: a wrong type and a missing required field are rejected', async () => {
  const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
  const good = structuredClone(workload('applier'));
  assert.throws(() => new Deployment({ ...good, spec: { ...good.spec, replicas: 'two' } }).validate(), /replicas must be integer/);
  assert.throws(() => new Deployment({ ...good, spec: { ...good.spec, template: { spec: {} } } }).validate(), /containers/);
});

test('pods run the image npm run image builds, with commands the CLI knows, non-root and read-only', () => {
  const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS();
  assert.deepEqual(kustomization.images, [{ name: 'dirstream', newName: IMAGE_NAME, newTag: IMAGE_TAG }]);
  const pods = [...byKind('Deployment'), ...byKind('Job')].map((w) => ({ name: w.metadata.name as string, spec: w.spec.template.spec }));
  assert.equal(pods.length, 4);
  for (const { name, spec } of pods) {
    assert.equal(spec.securityContext.runAsNonRoot, true, name);
    assert.equal(spec.securityContext.runAsUser, IMAGE_UID, `${name}: the image's user`);
    assert.equal(spec.automountServiceAccountToken, false, name);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const where = `${name}/${c.name}`;
      assert.equal(c.image, 'dirstream', where);
      const command = parseCommand(c.args);
      assert.notEqual(command.name, 'help', `${where}: ${c.args.join(' ')}`);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, where);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, where);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], where);
      assert.ok(c.resources.requests.memory && c.resources.limits.memory, `${where}: memory request and limit`);
      const mounts = new Map<string, Manifest>(c.volumeMounts.map((m: Manifest) => [m.mountPath, m]));
      // The only writable place: the image writes nothing but /tmp.
      assert.equal(
        spec.volumes.find((v: Manifest) => v.name === mounts.get('/tmp')?.name)?.emptyDir !== undefined,
        true,
        `${where}: /tmp emptyDir`,
      );
      const config = mounts.get(IMAGE_CONFIG_PATH);
      assert.ok(config, `${where}: the config mounted at the image's DIRSTREAM_CONFIG (${IMAGE_CONFIG_PATH})`);
      assert.equal(spec.volumes.find((v: Manifest) => v.name === config.name)?.configMap?.name, configMap.metadata.name, where);
      assert.equal(
        spec.volumes.find((v: Manifest) => v.name === mounts.get(SECRETS_DIR)?.name)?.secret?.secretName,
        secret.metadata.name,
        where,
      );
    }
  }
  assert.equal(dirname(IMAGE_CONFIG_PATH), dirname(SECRETS_DIR));
});

test('the ConfigMap is a valid dirstream.yaml whose secrets are files of the Secret, and ports and probes match it', async () => {
  const config = await loadManifestConfig();
  assert.ok(config.kafka.replicationFactor >= 3, 'production topics are replicated');

  const port = (c: Manifest, name: string) => c.ports.find((p: Manifest) => p.name === name)?.containerPort;
  const probes = (c: Manifest, portName: string) => {
    assert.deepEqual(
      [c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port, c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port],
      ['/healthz', portName, '/readyz', portName],
      c.name,
    );
  };
  const serve = workload('serve').spec.template.spec.containers[0];
  assert.equal(port(serve, 'http'), config.serve.listen.port);
  assert.equal(port(serve, 'admin'), config.serve.admin.port);
  // The kubelet probes the pod's IP: a listener on loopback would never be ready.
  assert.equal(config.serve.listen.host, '0.0.0.0');
  assert.equal(config.serve.admin.host, '0.0.0.0');
  probes(serve, 'http');
  const service = byKind('Service').find((s) => s.metadata.name === 'dirstream-serve');
  assert.deepEqual(
    service.spec.ports.map((p: Manifest) => [p.name, p.port, p.targetPort]),
    [
      ['http', config.serve.listen.port, 'http'],
      ['admin', config.serve.admin.port, 'admin'],
    ],
  );

  const applier = workload('applier').spec.template.spec.containers[0];
  assert.equal(port(applier, 'metrics'), config.applier.metricsPort);
  probes(applier, 'metrics');
  const poller = workload('poller');
  assert.equal(poller.spec.replicas, 2, 'one active and one standby poller');
  probes(poller.spec.template.spec.containers[0], 'metrics');
  assert.equal(port(poller.spec.template.spec.containers[0], 'metrics'), config.poller.metricsPort);
  assert.equal(config.applier.metricsHost, '0.0.0.0');
  assert.equal(config.poller.metricsHost, '0.0.0.0');

  const hpa = byKind('HorizontalPodAutoscaler')[0];
  assert.equal(hpa.spec.maxReplicas, config.kafka.partitions, 'appliers beyond the partition count would idle');
  assert.equal(hpa.spec.metrics[0].external.metric.selector.matchLabels.consumergroup, config.applier.groupId);
});

test('infra/compose.yaml runs the same image, read-only, with the config where the image expects it', () => {
  const compose = parseAllDocuments(readFileSync(resolve(DIR, '..', '..', 'infra', 'compose.yaml'), 'utf8'))[0]?.toJS() as {
    services: Record<string, Manifest>;
  };
  const dirstream = Object.entries(compose.services).filter(([name]) => name.startsWith('dirstream-'));
  assert.ok(dirstream.length >= 3);
  for (const [name, service] of dirstream) {
    assert.equal(service.image, `${IMAGE_NAME}:${IMAGE_TAG}`, name);
    assert.notEqual(parseCommand(service.command).name, 'help', name);
    assert.equal(service.read_only, true, name);
    assert.ok(
      service.volumes.some((v: string) => v.endsWith(`:${IMAGE_CONFIG_PATH}:ro`)),
      `${name}: config at ${IMAGE_CONFIG_PATH}`,
    );
  }
});

test('a secret file the Secret does not have is reported by the config loader', async () => {
  const saved = secret.stringData;
  secret.stringData = { 'database-password': 'x' };
  try {
    await assert.rejects(loadManifestConfig(), /ldap-bind-password|admin-token-operator/);
  } finally {
    secret.stringData = saved;
  }
});

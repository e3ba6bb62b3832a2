/**
 * deploy/kubernetes, checked without a cluster: every manifest parses and names itself, the rules
 * in the ConfigMap compile, and the pieces agree — probes and the admin endpoint (its port and
 * the Host they send), the NetworkPolicy and the admin port, the container port and the listener,
 * the Service and the container port, the NLB's PROXY v2 and the listener's `accept: required`,
 * the CPU limit and --workers, the grace period and the drain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cidrSet } from '../../src/matchers/cidr-set.js';
import { adminAccess, admit } from '../../src/admin/gate.js';
import { parseCidr } from '../../src/config/units.js';
import { execForm, parseDockerfile } from './dockerfile.js';
import { compileDeployRules, DEPLOY, durationMs, flagValue, listenerPorts, parseYamlDocs, readRepoFile } from './support.js';

interface Port {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet: { path: string; port: string | number; host?: string; httpHeaders?: { name: string; value: string }[] };
}
interface PolicyPeer {
  ipBlock?: unknown;
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
}
interface PolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress: { from?: PolicyPeer[]; ports?: { port: string | number; protocol?: string }[] }[];
}
interface Container {
  image: string;
  args: string[];
  ports: Port[];
  resources: { requests: { cpu: string }; limits: { cpu: string } };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop?: string[]; add?: string[] } };
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean; runAsUser: number; runAsGroup: number };
  containers: Container[];
  volumes: { name: string; configMap?: { name: string } }[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: { template?: { metadata: { labels: Record<string, string> }; spec: PodSpec }; type?: string; externalTrafficPolicy?: string; selector?: Record<string, string>; ports?: { port: number; targetPort: string | number }[] };
}
type PolicyManifest = Omit<Manifest, 'spec'> & { spec: PolicySpec };

const DIR = join(DEPLOY, 'kubernetes');
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
const docs = new Map(files.map((f) => [f, parseYamlDocs(readRepoFile(`deploy/kubernetes/${f}`), f) as Manifest[]]));
const manifests = [...docs.entries()].filter(([f]) => f !== 'kustomization.yaml').flatMap(([, d]) => d);
const byKind = (kind: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};
const configMap = byKind('ConfigMap');
const service = byKind('Service');
const workloads = [byKind('Deployment'), byKind('DaemonSet')];
const pod = workloads[0]!.spec!.template!.spec;
const container = pod.containers[0]!;
const rulesFiles = Object.entries(configMap.data ?? {});
const compiled = rulesFiles.map(([key, text]) => compileDeployRules(text, `configmap.yaml#${key}`));
const listeners = compiled.flatMap((c) => c.rules.listeners);
const admin = compiled.flatMap((c) => (c.adminListen ? [c.adminListen] : []));

/** A container port by name or number. */
function containerPort(port: string | number): number {
  if (typeof port === 'number') return port;
  const p = container.ports.find((q) => q.name === port);
  assert.ok(p, `no container port named ${port}`);
  return p.containerPort;
}

test('every manifest parses and has apiVersion, kind and metadata.name; the kustomization lists what exists', () => {
  assert.deepEqual(files, ['configmap.yaml', 'daemonset.yaml', 'deployment.yaml', 'kustomization.yaml', 'networkpolicy.yaml', 'service.yaml']);
  for (const m of manifests) {
    assert.ok(typeof m.apiVersion === 'string' && typeof m.kind === 'string' && typeof m.metadata?.name === 'string', JSON.stringify(m).slice(0, 80));
  }
  const [k] = docs.get('kustomization.yaml') as unknown as [{ apiVersion: string; kind: string; resources: string[]; images: { name: string; newTag: string }[] }];
  assert.equal(k.kind, 'Kustomization');
  assert.equal(k.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  // The DaemonSet is the documented alternative to the Deployment, never both (same pods twice).
  assert.deepEqual(k.resources, files.filter((f) => f !== 'kustomization.yaml' && f !== 'daemonset.yaml'));
  const version = (JSON.parse(readRepoFile('package.json')) as { version: string }).version;
  assert.deepEqual(k.images.map((i) => [i.name, i.newTag]), [[container.image.split(':')[0], version]]);
  assert.equal(container.image, `portplex:${version}`);
});

test("the ConfigMap's rules compile, with an admin endpoint on every address for the probes", () => {
  assert.deepEqual(rulesFiles.map(([k]) => k), ['portplex.yaml']);
  assert.equal(admin.length, 1);
  assert.equal(admin[0]!.host, '0.0.0.0', 'kubelet probes connect to the pod IP');
});

test('the Deployment and the DaemonSet run the same pod', () => {
  assert.deepEqual(workloads[1]!.spec!.template, workloads[0]!.spec!.template);
});

test("probes: readiness on /readyz, liveness on /healthz, at the admin endpoint's port", () => {
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  for (const p of [container.readinessProbe, container.livenessProbe]) assert.equal(containerPort(p.httpGet.port), admin[0]!.port);
});

test('the probes and a Prometheus scraping pod addresses send Host: <pod IP>:<port>, which the admin endpoint accepts; another name is 421', () => {
  for (const p of [container.readinessProbe, container.livenessProbe]) {
    // The kubelet then connects to the pod IP and names it in Host (a host: or Host header would need allowed_hosts).
    assert.equal(p.httpGet.host, undefined);
    assert.ok(!(p.httpGet.httpHeaders ?? []).some((h) => h.name.toLowerCase() === 'host'));
  }
  const config = compiled[0]!.rules.admin;
  assert.ok(config);
  assert.equal(config.tokenFile, undefined, 'the probes send no token: the NetworkPolicy guards the port');
  const access = adminAccess(config);
  const podIp = '10.0.3.17';
  const ask = (host: string, path: string): number | string => {
    const a = admit({ method: 'GET', target: path, httpVersion: '1.1', rawHeaders: ['Host', host], localAddress: podIp }, access);
    return a.ok ? a.path : a.reply.status;
  };
  for (const p of [container.readinessProbe, container.livenessProbe]) assert.equal(ask(`${podIp}:${containerPort(p.httpGet.port)}`, p.httpGet.path), p.httpGet.path);
  assert.equal(ask(`${podIp}:${config.listen.port}`, '/metrics'), '/metrics');
  assert.equal(ask(`attacker.example:${config.listen.port}`, '/metrics'), 421);
});

test('the NetworkPolicy lets anyone reach the public port and only Prometheus the admin port (the kubelet, on the node, always may)', () => {
  const policy = byKind('NetworkPolicy') as unknown as PolicyManifest;
  assert.deepEqual(policy.spec.podSelector.matchLabels, workloads[0]!.spec!.template!.metadata.labels);
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  const adminPort = admin[0]!.port;
  const portOf = (p: string | number): number => containerPort(p);
  for (const rule of policy.spec.ingress) {
    // A rule without ports opens every port, the admin one included.
    assert.ok(rule.ports !== undefined && rule.ports.length > 0, 'every rule names its ports');
    for (const p of rule.ports) assert.equal(p.protocol ?? 'TCP', 'TCP');
  }
  const publicRules = policy.spec.ingress.filter((r) => r.ports!.some((p) => portOf(p.port) === listenerPorts(compiled[0]!.rules)[0]));
  assert.ok(publicRules.some((r) => r.from === undefined), 'the public port is open to all (the NLB, the internet)');
  const adminRules = policy.spec.ingress.filter((r) => r.ports!.some((p) => portOf(p.port) === adminPort));
  assert.equal(adminRules.length, 1, 'one rule opens the admin port');
  const from = adminRules[0]!.from ?? [];
  assert.ok(from.length > 0, 'the admin port is not open to all');
  for (const peer of from) {
    assert.equal(peer.ipBlock, undefined, 'no address range: pods are picked by label');
    assert.ok(Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0, 'a pod selector naming Prometheus');
    assert.ok(Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length > 0, "and Prometheus' namespace");
  }
  assert.deepEqual(adminRules[0]!.ports!.map((p) => portOf(p.port)), [adminPort], 'the rule for Prometheus opens nothing else');
});

test('the container port is the listener port, and the Service sends 443 to it', () => {
  const ports = compiled.flatMap((c) => listenerPorts(c.rules));
  assert.equal(ports.length, 1, 'one listener');
  assert.ok(container.ports.some((p) => p.containerPort === ports[0]));
  assert.deepEqual(service.spec!.ports!.map((p) => [p.port, containerPort(p.targetPort)]), [[443, ports[0]]]);
  assert.deepEqual(service.spec!.selector, workloads[0]!.spec!.template!.metadata.labels);
});

test('the NLB sends PROXY v2 from its own VPC addresses, and the listener requires it from there only', () => {
  const a = service.metadata.annotations ?? {};
  assert.equal(service.spec!.type, 'LoadBalancer');
  assert.equal(service.spec!.externalTrafficPolicy, 'Local');
  assert.equal(a['service.beta.kubernetes.io/aws-load-balancer-type'], 'external');
  assert.equal(a['service.beta.kubernetes.io/aws-load-balancer-proxy-protocol'], '*');
  // Instance targets (or preservation on) would make the peer the client itself, outside `trusted`.
  assert.equal(a['service.beta.kubernetes.io/aws-load-balancer-nlb-target-type'], 'ip');
  assert.match(a['service.beta.kubernetes.io/aws-load-balancer-target-group-attributes'] ?? '', /(^|,)preserve_client_ip\.enabled=false(,|$)/);
  const privateNets = cidrSet(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => parseCidr(c) as Exclude<ReturnType<typeof parseCidr>, string>));
  for (const l of listeners) {
    assert.equal(l.proxy.accept, 'required', `listener ${l.name}`);
    assert.ok(l.proxy.trusted.length > 0);
    for (const c of l.proxy.trusted) {
      assert.equal(c.family, 'ipv4');
      assert.ok(c.prefix >= 8 && privateNets(c.address), `trusted ${c.address}/${c.prefix}: an NLB's addresses are private VPC addresses`);
    }
  }
});

test('locked down: non-root as the image user, read-only root, no capabilities (the port is above 1023)', () => {
  const uid = /^USER (\d+):(\d+)$/m.exec(readRepoFile('deploy/Dockerfile'));
  assert.ok(uid);
  assert.deepEqual(pod.securityContext, { ...pod.securityContext, runAsNonRoot: true, runAsUser: Number(uid[1]), runAsGroup: Number(uid[2]) });
  const sc = container.securityContext;
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  const low = container.ports.some((p) => p.containerPort < 1024);
  assert.deepEqual(sc.capabilities.add ?? [], low ? ['NET_BIND_SERVICE'] : []);
});

test('the CPU limit is --workers cores', () => {
  const workers = Number(flagValue(container.args, '--workers'));
  assert.ok(Number.isInteger(workers) && workers >= 1);
  assert.equal(container.resources.limits.cpu, String(workers));
  assert.equal(container.resources.requests.cpu, String(workers));
});

test('termination: the grace period covers the preStop wait and the whole drain', () => {
  const drain = durationMs(flagValue(container.args, '--drain-timeout'), '--drain-timeout');
  const cmd = container.lifecycle?.preStop?.exec?.command ?? [];
  const wait = cmd[0] === 'sleep' ? Number(cmd[1]) * 1000 : 0;
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > wait + drain, `${pod.terminationGracePeriodSeconds}s > ${wait}ms + ${drain}ms`);
});

test('the rules are the ConfigMap mounted as the --rules directory, without subPath (so updates arrive)', () => {
  const cmd = execForm(parseDockerfile(readRepoFile('deploy/Dockerfile')).at(-1)!.instructions.find((i) => i.cmd === 'CMD')!.args, 'CMD');
  assert.equal(container.args[0], cmd[0], 'args replace the image CMD: same subcommand');
  const rulesPath = flagValue(container.args, '--rules');
  const mount = container.volumeMounts.find((m) => m.mountPath === rulesPath);
  assert.ok(mount, `a volume mounted at --rules ${String(rulesPath)}`);
  assert.equal(mount.subPath, undefined);
  assert.equal(pod.volumes.find((v) => v.name === mount.name)?.configMap?.name, configMap.metadata.name);
});

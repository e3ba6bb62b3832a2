/**
 * Server selection among the available servers of one tier (primaries, or backups when no
 * primary is up), HAProxy's algorithms:
 * - roundrobin: smooth weighted round robin (nginx's), spreading a weight-3 server's turns out;
 * - leastconn: fewest active connections relative to weight; ties go round robin;
 * - source: a hash of the client address over the weighted server list, stable while the set of
 *   servers is unchanged;
 * - first: the first server (in file order) that has a free slot under max_connections.
 */
import type { Balance } from '../config/types.js';
import type { ServerState } from './server-state.js';

export function pickServer(balance: Balance, candidates: readonly ServerState[], clientAddress: string, tiebreak: number): ServerState | undefined {
  if (candidates.length === 0) return undefined;
  if (candidates.length === 1) return candidates[0];
  switch (balance) {
    case 'first':
      return candidates[0];
    case 'roundrobin':
      return smoothWeighted(candidates);
    case 'leastconn':
      return leastConnections(candidates, tiebreak);
    case 'source':
      return bySource(candidates, clientAddress);
  }
}

function smoothWeighted(servers: readonly ServerState[]): ServerState {
  let total = 0;
  let best: ServerState | undefined;
  for (const s of servers) {
    s.currentWeight += s.config.weight;
    total += s.config.weight;
    if (best === undefined || s.currentWeight > best.currentWeight) best = s;
  }
  best!.currentWeight -= total;
  return best!;
}

function leastConnections(servers: readonly ServerState[], tiebreak: number): ServerState {
  let best: ServerState[] = [];
  let bestScore = Infinity;
  for (const s of servers) {
    const score = (s.active + 1) / s.config.weight;
    if (score < bestScore) {
      bestScore = score;
      best = [s];
    } else if (score === bestScore) best.push(s);
  }
  return best[tiebreak % best.length]!;
}

function bySource(servers: readonly ServerState[], clientAddress: string): ServerState {
  let total = 0;
  for (const s of servers) total += s.config.weight;
  let slot = fnv1a(clientAddress) % total;
  for (const s of servers) {
    slot -= s.config.weight;
    if (slot < 0) return s;
  }
  return servers[servers.length - 1]!;
}

/** FNV-1a, 32-bit: cheap and well spread for short keys such as addresses. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Which capabilities a process keeps when it switches from root to `user:`: none on the js data
 * plane (node:cluster's primary, still root, binds for its workers); on the native one, each
 * worker binds its own sockets, so CAP_NET_BIND_SERVICE stays for a reload that adds a port below
 * 1024, and CAP_NET_ADMIN when a server is transparent (every connect needs it).
 */
import type { RulesConfig } from '../config/types.js';
import type { NativeAddon } from '../native/addon.js';
import { transparentServers } from '../transparent/requirements.js';
import { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE } from '../net/capabilities.js';
import type { CapabilityKeeper } from './privileges.js';

export function capabilitiesToKeep(rules: RulesConfig, addon: NativeAddon | undefined): { readonly via: CapabilityKeeper; readonly capabilities: readonly number[] } | undefined {
  if (addon === undefined) return undefined;
  return { via: addon, capabilities: transparentServers(rules).length > 0 ? [CAP_NET_BIND_SERVICE, CAP_NET_ADMIN] : [CAP_NET_BIND_SERVICE] };
}

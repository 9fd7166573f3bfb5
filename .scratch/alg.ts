import { readSettings } from '../infra/settings.js';
const ctx: Record<string, unknown> = { 'streamgate:identity': 'external', 'streamgate:jwtIssuer': 'https://a.acme.net/', 'streamgate:jwtAudience': 'x', 'streamgate:jwksUrl': 'https://a.acme.net/j', 'streamgate:jwtAlgorithms': 'RS256,ES256' };
try { readSettings((k) => ctx[k]); } catch (e) { console.log((e as Error).message); }

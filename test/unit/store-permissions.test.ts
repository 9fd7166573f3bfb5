/**
 * The CDK app grants the store exactly the actions in core/store/permissions.ts; this keeps that list honest
 * against what the store's code actually sends.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  COMMAND_ACTIONS,
  HISTORY_QUERY_ACTIONS,
  LEASE_INDEX_ACTIONS,
  TABLE_ACTIONS,
} from '../../core/store/permissions.js';

const storeDir = new URL('../../core/store/', import.meta.url);
const sources = readdirSync(storeDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(new URL(f, storeDir), 'utf8'))
  .join('\n');

describe('When the store sends DynamoDB commands', () => {
  const commands = [...new Set([...sources.matchAll(/new (\w+Command)\(/g)].map((m) => m[1]!))];

  it('sends some (the scan below found the store)', () => {
    expect(commands).toContain('TransactWriteCommand');
  });

  it('is granted every action each command needs, and no wildcard', () => {
    const granted = new Set<string>([...TABLE_ACTIONS, ...LEASE_INDEX_ACTIONS, ...HISTORY_QUERY_ACTIONS]);
    for (const command of commands) {
      expect(COMMAND_ACTIONS[command], `${command} has no entry in COMMAND_ACTIONS`).toBeDefined();
      for (const action of COMMAND_ACTIONS[command]!) expect(granted, `${command} needs ${action}`).toContain(action);
    }
    for (const action of granted) expect(action).toMatch(/^dynamodb:[A-Z][A-Za-z]+$/);
  });

  it('writes no transaction item kind it is not granted', () => {
    // Inside TransactItems each kind is authorized as its single-item action.
    const kinds: Record<string, string> = {
      Put: 'dynamodb:PutItem',
      Update: 'dynamodb:UpdateItem',
      ConditionCheck: 'dynamodb:ConditionCheckItem',
      Delete: 'dynamodb:DeleteItem',
    };
    for (const [kind, action] of Object.entries(kinds)) {
      if (new RegExp(`\\b${kind}: \\{`).test(sources)) expect(TABLE_ACTIONS as readonly string[]).toContain(action);
    }
  });

  it('never scans', () => {
    expect(commands).not.toContain('ScanCommand');
  });
});

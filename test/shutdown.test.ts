import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testEnv } from './support/server';

let child: ChildProcess | undefined;
let dataDir: string | undefined;

afterEach(() => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  child = undefined;
  dataDir = undefined;
});

/** Starts `npm start`'s entry point as a real process and waits for its URL. */
async function startProcess(env: Record<string, string>): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-proc-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/apps/social/main.ts'], {
    env: { ...process.env, ...testEnv(), PORT: '0', HOST: '127.0.0.1', TANDEM_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 15_000);
    const check = () => {
      const match = /Tandem social: (http:\/\/[^\s]+)/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    proc.stdout?.on('data', check);
    proc.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { proc, url, output: () => out };
}

function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.on('exit', (code) => resolve(code))));
}

describe('the server process', () => {
  it('prints its URL and the demo logins, and seeds an empty store once', async () => {
    const { url, output } = await startProcess({ TANDEM_SEED: 'true' });
    expect(output()).toContain('alice');
    const feed = (await (await fetch(`${url}/api/posts`)).json()) as { items: unknown[] };
    expect(feed.items.length).toBeGreaterThan(0);
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'tandem-demo' }) });
    expect(login.status).toBe(200);
  });

  it('on SIGTERM stops accepting, finishes the in-flight request, and exits 0', async () => {
    const { proc, url } = await startProcess({ TANDEM_SEED: 'true' });
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: 'tandem-demo' }) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const body = JSON.stringify({ body: 'written while the server drains' });
    const { port } = new URL(url);

    // Send half the body, signal, then the rest: the request was in flight when SIGTERM came.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: Number(port), path: '/api/posts', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${accessToken}` } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        proc.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    const answer = await response;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.text)).toMatchObject({ body: 'written while the server drains' });
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(await exitOf(proc)).toBe(0);
  });

  it('refuses to start on bad configuration, naming each bad variable', async () => {
    await expect(startProcess({ PORT: 'nope', TANDEM_CORS_ORIGINS: 'not-an-origin' })).rejects.toThrow(/PORT[\s\S]*TANDEM_CORS_ORIGINS|TANDEM_CORS_ORIGINS[\s\S]*PORT/);
    expect(await exitOf(child!)).toBe(78);
  });
});

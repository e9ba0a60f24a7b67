/**
 * Summarizes V8 .cpuprofile files (from `BENCH_TANDEM_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"`):
 * self time by function and by file, and inclusive time of the functions that matter.
 *
 *   npx tsx bench/realtime/profile-summary.ts DIR/*.cpuprofile [--top=40] [--under=REGEX]
 *
 * --under keeps only samples with a frame matching REGEX ("name file:line") on the stack, e.g.
 * --under='flush-scheduler|publishCommitted' for Tandem's fanout, --under='ws-server' for bare ws's.
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);
const underArg = process.argv.find((a) => a.startsWith('--under='))?.slice(8);
const under = underArg === undefined ? undefined : new RegExp(underArg);
if (files.length === 0) {
  process.stderr.write('usage: tsx bench/realtime/profile-summary.ts FILE.cpuprofile... [--top=40]\n');
  process.exit(1);
}

const selfByFn = new Map<string, number>();
const selfByFile = new Map<string, number>();
const totalByFn = new Map<string, number>();
let total = 0;
let idle = 0;

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm !== -1) return clean.slice(nm + 'node_modules/'.length);
  return path.relative(process.cwd(), clean);
}

for (const file of files) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const keyOf = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
  const isUnder = (id: number) => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (under!.test(keyOf(byId.get(cur)!.callFrame))) return true;
    return false;
  };
  for (const [id, us] of selfTime) {
    const node = byId.get(id)!;
    if (under !== undefined && !isUnder(id)) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const key = keyOf({ functionName, url, lineNumber });
    selfByFn.set(key, (selfByFn.get(key) ?? 0) + us);
    const fileKey = shortUrl(url);
    selfByFile.set(fileKey, (selfByFile.get(fileKey) ?? 0) + us);
    // Inclusive: credit every distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf(byId.get(cur)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      totalByFn.set(k, (totalByFn.get(k) ?? 0) + us);
    }
  }
}

const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const print = (title: string, map: Map<string, number>, n: number) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
};
process.stdout.write(`busy ${ms(total)} (idle ${ms(idle)}) in ${files.length} profile(s)${under === undefined ? '' : `, samples under /${underArg}/ only`}\n`);
print('self time by function', selfByFn, top);
print('self time by file', selfByFile, 25);
print('inclusive time (src/ and bench/ functions, ws)', new Map([...totalByFn].filter(([k]) => / (src|bench)\/| ws\//.test(k))), top);

// Builds a block every SECONDS on a chopsticks chain, stamped with the wall clock: chopsticks
// builds blocks only when asked, and stamps each one slot after its parent, so a chain driven
// faster than its slots would run ahead of real time. Used by `scripts/chopsticks.sh run ...
// SECONDS` for a devnet on subtensor; a real subtensor node needs none of this.
//
//   node blocks.mjs ws://127.0.0.1:PORT SECONDS
import WebSocket from 'ws';

const [url, seconds] = process.argv.slice(2);
const period = Math.max(0.5, Number(seconds)) * 1000;
let id = 0;
const pending = new Map();

function connect() {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on('open', () => resolve(ws));
        ws.on('error', reject);
        ws.on('message', (data) => {
            const answer = JSON.parse(data.toString());
            const waiting = pending.get(answer.id);
            if (!waiting) return;
            pending.delete(answer.id);
            if (answer.error) waiting.reject(new Error(JSON.stringify(answer.error)));
            else waiting.resolve(answer.result);
        });
    });
}

// Every answer within 30 s, so one lost answer cannot stop the blocks.
function call(ws, method, params) {
    id += 1;
    const mine = id;
    const request = { jsonrpc: '2.0', id: mine, method, params };
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            pending.delete(mine);
            reject(new Error(`${method}: no answer in 30 s`));
        }, 30_000);
        pending.set(mine, {
            resolve: (v) => { clearTimeout(timer); resolve(v); },
            reject: (e) => { clearTimeout(timer); reject(e); },
        });
        ws.send(JSON.stringify(request));
    });
}

async function main() {
    // Started next to chopsticks, before it listens; gives up if it never does.
    let ws;
    const giveUp = Date.now() + 300_000;
    for (;;) {
        try { ws = await connect(); break; } catch {
            if (Date.now() > giveUp) throw new Error(`no chain at ${url}`);
            await new Promise((r) => setTimeout(r, 500));
        }
    }
    ws.on('close', () => process.exit(0));
    const slot = await learnSlot(ws);
    for (;;) {
        const next = Date.now() + period;
        try {
            await call(ws, 'dev_timeTravel', [Date.now() - slot]);
            await call(ws, 'dev_newBlock', [{ count: 1 }]);
        } catch (e) {
            console.error(`blocks.mjs: ${e.message}`);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
}

// The slot: a block built after travelling to time T is stamped T + slot. The first blocks
// of a fresh chopsticks chain can fail to build ("Timestamp slot must match CurrentSlot"), so
// it tries until the head moves.
async function learnSlot(ws) {
    for (let tries = 0; tries < 20; tries += 1) {
        const before = parseInt((await call(ws, 'chain_getHeader', [])).number, 16);
        const travelled = Date.now();
        try {
            await call(ws, 'dev_timeTravel', [travelled]);
            await call(ws, 'dev_newBlock', [{ count: 1 }]);
        } catch (e) {
            console.error(`blocks.mjs: ${e.message}`);
        }
        const after = parseInt((await call(ws, 'chain_getHeader', [])).number, 16);
        if (after > before) return (await stampOfHead(ws)) - travelled;
    }
    throw new Error('no block could be built');
}

// Timestamp.Now at the head (SCALE u64, little-endian).
async function stampOfHead(ws) {
    const key = '0xf0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb';
    const raw = await call(ws, 'state_getStorage', [key]);
    return Number(Buffer.from(raw.slice(2), 'hex').readBigUInt64LE(0));
}

main().catch((e) => { console.error(`blocks.mjs: ${e.message}`); process.exit(1); });

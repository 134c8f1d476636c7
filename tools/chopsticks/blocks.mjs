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

function call(ws, method, params) {
    id += 1;
    const request = { jsonrpc: '2.0', id, method, params };
    return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
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
    // One block learns the slot: its stamp minus the time it was asked for.
    await call(ws, 'dev_timeTravel', [Date.now()]);
    const asked = Date.now();
    await call(ws, 'dev_newBlock', [{ count: 1 }]);
    const header = await call(ws, 'chain_getHeader', []);
    const slot = await slotOf(ws, header, asked);
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

// Timestamp.Now of the head, as SCALE u64 little-endian, minus when the block was asked for,
// rounded to a whole second (slots are whole seconds).
async function slotOf(ws, header, asked) {
    const key = '0xf0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb';
    const raw = await call(ws, 'state_getStorage', [key]);
    const bytes = Buffer.from(raw.slice(2), 'hex');
    const stamp = Number(bytes.readBigUInt64LE(0));
    return Math.round((stamp - asked) / 1000) * 1000;
}

main().catch((e) => { console.error(`blocks.mjs: ${e.message}`); process.exit(1); });

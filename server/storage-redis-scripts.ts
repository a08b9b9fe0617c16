// SPDX-License-Identifier: MIT
/**
 * @module storage-redis-scripts
 * The key layout and the Lua scripts of the Redis backend. Every change that must be atomic
 * is one script, so it is atomic on a single Redis and on a Redis Cluster alike: all keys of
 * one app carry the same hash tag, so they live in one slot and a script may touch any of them.
 *
 * A client record is a hash `client:<id>` with the fields `owner`, `seq` (decimal text, as
 * the client sent it: Lua numbers print with 14 digits only) and one field `r:<seq>` per final
 * refusal holding the JSON `[code, message]`, so an append checks a refusal with one `HMGET`
 * and never decodes a list. Each change renews the key's `PEXPIRE`: Redis itself drops records
 * that age out. The sorted set `clients` (id → time of last change) is there for the count
 * bound only: each change trims it of entries older than the TTL (a batch at a time) and,
 * beyond `maxClients`, deletes the least recently changed records.
 * @internal
 */
import { MAX_REFUSALS } from './storage.js';
import { PRUNE_BATCH } from './storage-clients.js';

/** The default hash tag for a key prefix: the prefix without its trailing colons (`twin:` → `twin`). */
export function defaultHashTag(prefix: string): string {
  return prefix.replace(/:+$/, '') || 'twin';
}

/** The keys of one app (prefix and hash tag), e.g. `twin:{twin}:log:todos`. */
export interface RedisKeys {
  log(store: string): string;
  v(store: string): string;
  snap(store: string): string;
  /** The store's epoch, `<random>:<base>`: set when a node restores the store (Redis had lost it). */
  epoch(store: string): string;
  /**
   * A hash of the batch ids the node that restored the store held in its log (each → '1'), and
   * `~from`, the version that log started at: what a merging node checks its batches against.
   */
  held(store: string): string;
  client(id: string): string;
  /** What precedes a client id in its key, for scripts that delete evicted records. */
  clientBase: string;
  /** The sorted set of client ids by time of last change. */
  clients: string;
}

/**
 * The key layout for `prefix` and `hashTag`. Throws a `RangeError` when either holds a brace:
 * Redis hashes the first `{…}` of a key, so a brace in the prefix would take the tag's place.
 */
export function redisKeys(prefix: string, hashTag: string): RedisKeys {
  if (/[{}]/.test(prefix) || /[{}]/.test(hashTag) || hashTag === '') {
    throw new RangeError(`The Redis prefix ${JSON.stringify(prefix)} and hash tag ${JSON.stringify(hashTag)} must have no braces, and the tag must not be empty.`);
  }
  const base = `${prefix}{${hashTag}}:`;
  return {
    log: (store) => `${base}log:${store}`,
    v: (store) => `${base}v:${store}`,
    snap: (store) => `${base}snap:${store}`,
    epoch: (store) => `${base}epoch:${store}`,
    held: (store) => `${base}held:${store}`,
    client: (id) => `${base}client:${id}`,
    clientBase: `${base}client:`,
    clients: `${base}clients`,
  };
}

/**
 * Shared by the scripts that change a client record (`ck` its key, `zk` the sorted set, `ttl`,
 * `max`, `base` the client key prefix, `id`): renews the record's expiry, moves it to the
 * newest end of the sorted set, forgets up to a batch of entries whose records expired, and
 * deletes the least recently changed records beyond `max`. Those keys are built here rather
 * than passed in KEYS, which a Cluster allows because they share the slot of the hash tag.
 */
const FORGET = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function forgetExpired(zk, now, ttl)
  local old = redis.call('ZRANGEBYSCORE', zk, '-inf', now - tonumber(ttl), 'LIMIT', 0, ${PRUNE_BATCH})
  if #old > 0 then redis.call('ZREM', zk, unpack(old)) end
  return #old
end
`;

const TOUCH = `${FORGET}
-- After \`touched\` records were renewed: forgets up to as many batches of expired entries, and
-- deletes the records beyond \`max\`.
local function bound(zk, now, ttl, max, base, touched)
  for _ = 1, touched do
    if forgetExpired(zk, now, ttl) < ${PRUNE_BATCH} then break end
  end
  local surplus = redis.call('ZCARD', zk) - tonumber(max)
  if surplus > 0 then
    local gone = redis.call('ZPOPMIN', zk, surplus)
    for i = 1, #gone, 2 do redis.call('DEL', base .. gone[i]) end
  end
end
local function touch(ck, zk, ttl, max, base, id)
  redis.call('PEXPIRE', ck, ttl)
  local now = nowMs()
  redis.call('ZADD', zk, now, id)
  bound(zk, now, ttl, max, base, 1)
end
local function ensure(ck)
  if redis.call('EXISTS', ck) == 0 then redis.call('HSET', ck, 'owner', '', 'seq', '0') end
end
local function trimRefusals(ck)
  local fields = redis.call('HKEYS', ck)
  local seqs = {}
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'r:' then seqs[#seqs + 1] = tonumber(string.sub(f, 3)) end
  end
  if #seqs <= ${MAX_REFUSALS} then return end
  table.sort(seqs)
  for i = 1, #seqs - ${MAX_REFUSALS} do redis.call('HDEL', ck, 'r:' .. string.format('%d', seqs[i])) end
end
`;

/**
 * Makes a group of appends, one after the other, each as the old single-append script did:
 * it appends one batch to each of its n stores and, with a client, records its seq — or
 * changes nothing and says why. Each keeps its own outcome; a later one sees what the earlier
 * ones wrote (a batch `after` one that failed conflicts). One call per group instead of one
 * per append: on a busy node, the per-command costs (a timeout signal, a reply, a promise
 * chain) were most of an append's price.
 *
 * KEYS: `clients`, then for each append `v`, `log` and `epoch` of each of its stores and, with
 * a client, the client's key. ARGV: TTL, max, client key base, the number of appends m; then
 * for each append n, the client's seq and id ('' for none), and `v`, `ops`, `id`, `after`,
 * `epoch` of each batch ('' for none). Replies one reply per append: `{'ok'}`,
 * `{'refused', '[code,message]'}`, `{'duplicate', seq}`, `{'epoch', part index, stored epoch}`,
 * `{'conflict', part index, stored version}` or `{'error', message}` (a Redis error).
 *
 * The records of the clients whose appends went through are renewed once each, after the
 * loop: the same records end up renewed, with one pass of the index's bounds per group.
 */
export const APPEND_SCRIPT = `${TOUCH}
local ttl, max, base = ARGV[1], ARGV[2], ARGV[3]
local renewed, order = {}, {}
-- One append: its keys start at KEYS[k], its batches' arguments at ARGV[a].
local function append(k, a, n, seq, client)
  local ck = KEYS[k + 3 * n]
  if seq ~= '' then
    local rec = redis.call('HMGET', ck, 'seq', 'r:' .. seq)
    if rec[2] then return {'refused', rec[2]} end
    if rec[1] and tonumber(rec[1]) >= tonumber(seq) then return {'duplicate', rec[1]} end
  end
  -- A node that did not see a restore of the store may not write on top of it.
  for i = 0, n - 1 do
    local epoch = redis.call('GET', KEYS[k + 3 * i + 2]) or ''
    if epoch ~= ARGV[a + 5 * i + 4] then return {'epoch', tostring(i + 1), epoch} end
  end
  -- The id each batch must follow ('' for any): the stream's entry at v-1 must hold it.
  for i = 0, n - 1 do
    local current = redis.call('GET', KEYS[k + 3 * i]) or '0'
    if tonumber(current) ~= tonumber(ARGV[a + 5 * i]) - 1 then return {'conflict', tostring(i + 1), current} end
    local after = ARGV[a + 5 * i + 3]
    if after ~= '' then
      local prev = redis.call('XRANGE', KEYS[k + 3 * i + 1], current .. '-0', current .. '-0')
      local found = ''
      if prev[1] then
        local fields = prev[1][2]
        for f = 1, #fields, 2 do if fields[f] == 'id' then found = fields[f + 1] end end
      end
      if found ~= after then return {'conflict', tostring(i + 1), current} end
    end
  end
  for i = 0, n - 1 do
    local v, ops, id, epoch = ARGV[a + 5 * i], ARGV[a + 5 * i + 1], ARGV[a + 5 * i + 2], ARGV[a + 5 * i + 4]
    local entry = {'XADD', KEYS[k + 3 * i + 1], v .. '-0', 'v', v, 'ops', ops}
    if id ~= '' then entry[#entry + 1] = 'id'; entry[#entry + 1] = id end
    -- Each entry names its epoch, so a node reading it can tell a store restored by another
    -- node (whose batches do not follow on from what it holds) from the one it knows.
    if epoch ~= '' then entry[#entry + 1] = 'ep'; entry[#entry + 1] = epoch end
    redis.call(unpack(entry))
    redis.call('SET', KEYS[k + 3 * i], v)
  end
  if seq ~= '' then
    ensure(ck)
    redis.call('HSET', ck, 'seq', seq)
    if not renewed[client] then
      renewed[client] = true
      order[#order + 1] = client
    end
  end
  return {'ok'}
end
local replies = {}
local k, a = 2, 5
for j = 1, tonumber(ARGV[4]) do
  local n, seq, client = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  -- An error (a key of another type, say) fails its own append only, not the group.
  local ok, reply = pcall(append, k, a + 3, n, seq, client)
  replies[j] = ok and reply or {'error', type(reply) == 'table' and tostring(reply.err) or tostring(reply)}
  k = k + 3 * n + (seq ~= '' and 1 or 0)
  a = a + 3 + 5 * n
end
if #order > 0 then
  local zk, now = KEYS[1], nowMs()
  for _, client in ipairs(order) do
    redis.call('PEXPIRE', base .. client, ttl)
    redis.call('ZADD', zk, now, client)
  end
  bound(zk, now, ttl, max, base, #order)
end
return replies`;

/** Claims a record. KEYS: the client's key, `clients`. ARGV: owner, TTL, max, base, id. Replies the record's fields as HGETALL does. */
export const CLAIM_SCRIPT = `${TOUCH}
local ck = KEYS[1]
ensure(ck)
local owner = redis.call('HGET', ck, 'owner')
if owner == '' then redis.call('HSET', ck, 'owner', ARGV[1]) end
touch(ck, KEYS[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return redis.call('HGETALL', ck)`;

/** Records a final refusal. KEYS: the client's key, `clients`. ARGV: seq, `[code,message]`, TTL, max, base, id. */
export const REFUSE_SCRIPT = `${TOUCH}
local ck = KEYS[1]
ensure(ck)
if redis.call('HSETNX', ck, 'r:' .. ARGV[1], ARGV[2]) == 1 then trimRefusals(ck) end
touch(ck, KEYS[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 'ok'`;

/**
 * Merges a record a node held back in. KEYS: the client's key, `clients`. ARGV: owner, seq,
 * TTL, max, base, id, then a seq and its `[code,message]` for each refusal.
 */
export const MERGE_SCRIPT = `${TOUCH}
local ck = KEYS[1]
ensure(ck)
local rec = redis.call('HMGET', ck, 'owner', 'seq')
if rec[1] == '' then redis.call('HSET', ck, 'owner', ARGV[1]) end
if tonumber(ARGV[2]) > tonumber(rec[2]) then redis.call('HSET', ck, 'seq', ARGV[2]) end
for i = 7, #ARGV, 2 do redis.call('HSETNX', ck, 'r:' .. ARGV[i], ARGV[i + 1]) end
trimRefusals(ck)
touch(ck, KEYS[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 'ok'`;

/**
 * Forgets up to a batch of index entries whose records expired (the background sweep, for
 * when nobody writes). KEYS: `clients`. ARGV: TTL. Replies how many it forgot.
 */
export const FORGET_SCRIPT = `${FORGET}
return forgetExpired(KEYS[1], nowMs(), ARGV[1])`;

/**
 * Stores the snapshot unless a newer one is there, then trims the stream below it. The old
 * snapshot's version is read from the head of its JSON, which we always write as `{"v":N,…`.
 */
export const COMPACT_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[2]) > current then return 'ahead:' .. current end
local old = redis.call('GET', KEYS[1])
local oldV = old and tonumber(string.match(old, '^{"v":(%d+),'))
if oldV and oldV > tonumber(ARGV[2]) then return 'ok' end
redis.call('SET', KEYS[1], ARGV[1])
-- MINID is the snapshot's version: its batch stays, for appends made after it (AppendPart.after).
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[3])
return 'ok'`;

/**
 * Writes a node's state back when Redis lost the store (it holds nothing of it), as a new
 * epoch `<ARGV[3]>:<version>`, with the ids of the batches its log held (from version
 * ARGV[4]) for nodes that merge into it. A store that is there (maybe restored by another node
 * a moment ago, and written since) is left alone: the node merges into it instead. KEYS: `v`,
 * `log`, `snap`, `epoch`, `held`. ARGV: snapshot JSON, version, a random epoch id, the version
 * the log starts at, then the ids. Replies the new epoch, or ''.
 */
export const RESTORE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return '' end
redis.call('DEL', KEYS[2], KEYS[5])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2])
local epoch = ARGV[3] .. ':' .. ARGV[2]
redis.call('SET', KEYS[4], epoch)
redis.call('HSET', KEYS[5], '~from', ARGV[4])
for i = 5, #ARGV do redis.call('HSET', KEYS[5], ARGV[i], '1') end
return epoch`;

/**
 * Which of a merging node's batches the store, restored by another node, lacks: neither held
 * by the node that restored it, nor older than that node's log (by the merging node's version
 * of it), nor appended after the restore's base. KEYS: `log`, `epoch`, `held`. ARGV: the epoch
 * the node merges into, the base version, then each batch's id and version. Replies the ids
 * lacking, in order, or {'epoch'} (the store was restored again meanwhile).
 */
export const LACKS_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return {'epoch'} end
local from = tonumber(redis.call('HGET', KEYS[3], '~from') or (tonumber(ARGV[2]) + 1))
local since = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], (tonumber(ARGV[2]) + 1) .. '-0', '+')) do
  local fields = entry[2]
  for i = 1, #fields, 2 do if fields[i] == 'id' then since[fields[i + 1]] = true end end
end
local lacking = {}
for i = 3, #ARGV, 2 do
  local id, v = ARGV[i], tonumber(ARGV[i + 1])
  if v >= from and not since[id] and redis.call('HEXISTS', KEYS[3], id) == 0 then lacking[#lacking + 1] = id end
end
return lacking`;

/**
 * Appends a batch LACKS_SCRIPT found missing, unless a batch with its id was appended after the
 * restore's base since (another node merging the same batch). What the restoring node held
 * cannot change within an epoch, so it is not asked again. KEYS: `v`, `log`, `epoch`. ARGV:
 * the epoch the node merges into, the base version, ops JSON, id. Replies 'appended',
 * 'present', or 'epoch' (the store was restored again meanwhile).
 */
export const REAPPEND_SCRIPT = `
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 'epoch' end
local entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[2]) + 1) .. '-0', '+')
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'id' and fields[i + 1] == ARGV[4] then return 'present' end
  end
end
local v = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
if ARGV[1] == '' then
  redis.call('XADD', KEYS[2], v .. '-0', 'v', v, 'ops', ARGV[3], 'id', ARGV[4])
else
  redis.call('XADD', KEYS[2], v .. '-0', 'v', v, 'ops', ARGV[3], 'id', ARGV[4], 'ep', ARGV[1])
end
redis.call('SET', KEYS[1], v)
return 'appended'`;

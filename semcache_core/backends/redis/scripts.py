"""Lua scripts that change one shard atomically (every key they touch shares the shard's
hash tag, so each runs on one node, cluster or not).

``KEYS[1]`` is always the shard's vector set and ``KEYS[2]`` its expiry sorted set; entry
hashes are ``ARGV``-given prefix + key, in the same slot.
"""

from __future__ import annotations

__all__ = [
    "DELETE",
    "DROP",
    "PURGE",
    "SEARCH",
    "SET",
    "SET_ARGS",
    "SET_IF_UNCHANGED",
    "TOUCH",
    "VECTOR_DIM",
]

SET_ARGS = 8
"""ARGV per entry in :data:`SET`: key, value, metadata, x, namespace, ttl_ms, blob, attrs."""

SET = """
local dim = tonumber(ARGV[1])
-- VREM only where a set exists: a server without vector sets has none (and no VREM)
local has_set = redis.call('EXISTS', KEYS[1]) == 1
if dim > 0 and has_set then
  local have = redis.call('VDIM', KEYS[1])
  if have ~= dim then return {'dim', have} end
end
local n = #KEYS - 2
for i = 1, n do
  local e = KEYS[i + 2]
  local b = 3 + (i - 1) * 8
  local key, x, ttl, blob = ARGV[b + 1], ARGV[b + 4], ARGV[b + 6], ARGV[b + 7]
  redis.call('DEL', e)
  if has_set then redis.call('VREM', KEYS[1], key) end
  if ttl == '-1' or x == '' then redis.call('ZREM', KEYS[2], key) end
  if ttl ~= '-1' then
    if blob ~= '' then
      redis.call('HSET', e, 'v', ARGV[b + 2], 'm', ARGV[b + 3], 'x', x, 'k', key,
                 'n', ARGV[b + 5], 'f', blob)
      redis.call('VADD', KEYS[1], 'FP32', blob, key, 'NOQUANT', 'SETATTR', ARGV[b + 8],
                 'M', ARGV[2], 'EF', ARGV[3])
      has_set = true
    else
      redis.call('HSET', e, 'v', ARGV[b + 2], 'm', ARGV[b + 3], 'x', x, 'k', key,
                 'n', ARGV[b + 5])
    end
    if ttl ~= '0' then redis.call('PEXPIRE', e, ttl) end
    if x ~= '' then redis.call('ZADD', KEYS[2], x, key) end
  end
end
return {'ok', n}
"""
"""Replace entries of one shard (``ttl_ms`` ``-1``: remove only, the entry is born
expired; ``0``: no ``PEXPIRE``). ``ARGV[1..3]``: dim (0 without vectors), M, EF.
Returns ``{'dim', d}`` without writing when the shard holds vectors of dimension d."""

SET_IF_UNCHANGED = (
    """
local held = redis.call('HMGET', KEYS[3], 'v', 'm')
if held[1] ~= ARGV[#ARGV - 1] or held[2] ~= ARGV[#ARGV] then return {'changed', 0} end
"""
    + SET
)
""":data:`SET` of one entry, only while its hash still holds the value and metadata given
as the last two ``ARGV`` (after :data:`SET`'s); ``{'changed', 0}`` without writing when it
does not (removed, expired, or rewritten since it was read)."""

DELETE = """
local e = ARGV[1] .. ARGV[2]
local x = redis.call('HGET', e, 'x')
redis.call('DEL', e)
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('VREM', KEYS[1], ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[2])
if not x then return {0, ''} end
return {1, x}
"""
"""Remove one entry; ARGV: entry prefix, key. Returns ``{existed, x}``."""

DROP = """
local function unlink_entries(keys)
  for _, key in ipairs(keys) do redis.call('UNLINK', ARGV[1] .. key) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  unlink_entries(redis.call('VRANDMEMBER', KEYS[1], redis.call('VCARD', KEYS[1])))
end
unlink_entries(redis.call('ZRANGE', KEYS[2], 0, -1))
redis.call('UNLINK', KEYS[1], KEYS[2])
return 1
"""
"""Remove a whole shard for ``clear``: every entry its vector set or expiry set names
(ARGV: entry prefix), then both sets. One script, so a write the shard takes during a
``clear`` lands wholly before it (and goes) or wholly after (and stays): never a hash
whose vector or expiry record went with the sets."""

TOUCH = """
local e = ARGV[1] .. ARGV[2]
local x = redis.call('HGET', e, 'x')
-- an x semcache never writes (not a number) is no live entry either
if not x or (x ~= '' and not (tonumber(x) and tonumber(x) > tonumber(ARGV[3]))) then
  return 0
end
-- the one call that can refuse its argument goes first: a failure then writes nothing
if ARGV[5] == '0' then redis.call('PERSIST', e) else redis.call('PEXPIRE', e, ARGV[5]) end
redis.call('HSET', e, 'x', ARGV[4])
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[2])
else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2]) end
if redis.call('HEXISTS', e, 'f') == 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  local a = redis.call('VGETATTR', KEYS[1], ARGV[2])
  if a then
    a = string.gsub(a, '"__semcache_exp":[^,}]*}$', '"__semcache_exp":' .. ARGV[6] .. '}')
    redis.call('VSETATTR', KEYS[1], ARGV[2], a)
  end
end
return 1
"""
"""Give one live entry a new expiry; ARGV: entry prefix, key, now, ``x`` ('' never),
``ttl_ms`` ('0': ``PERSIST``), the expiry attribute (JSON number, last in the vector's
attributes: see :func:`.entry_codec.attributes`). Returns 1, or 0 when no live entry
(by the cache's clock) was there; changes nothing then."""

PURGE = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local n = 0
for _, key in ipairs(due) do
  local e = ARGV[2] .. key
  local x = redis.call('HGET', e, 'x')
  if x and x ~= '' and tonumber(x) and tonumber(x) > now then  -- else expired, or foreign
    redis.call('ZADD', KEYS[2], x, key)
  elseif x == '' then
    redis.call('ZREM', KEYS[2], key)
  else
    redis.call('DEL', e)
    if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('VREM', KEYS[1], key) end
    redis.call('ZREM', KEYS[2], key)
    n = n + 1
  end
end
return n
"""
"""Reclaim the shard's entries expired at ``ARGV[1]`` (entry prefix ``ARGV[2]``): the
hash, the vector and the expiry record. Returns how many."""

SEARCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local now = tonumber(ARGV[11])
local dim = redis.call('VDIM', KEYS[1])
if dim * 4 ~= string.len(ARGV[1]) then return {-1, dim} end
local card = redis.call('VCARD', KEYS[1])
-- no search returns more than the set holds: a larger COUNT, EF or FILTER-EF (a huge k)
-- overflows the server's counters or has it allocate without bound
local function upto(n) return string.format('%d', math.min(tonumber(n), card)) end
local args = {'VSIM', KEYS[1], 'FP32', ARGV[1], 'WITHSCORES', 'COUNT', upto(ARGV[2]),
              'EF', upto(ARGV[3])}
if ARGV[5] ~= '' then
  args[#args + 1] = 'FILTER'; args[#args + 1] = ARGV[5]
  args[#args + 1] = 'FILTER-EF'; args[#args + 1] = upto(ARGV[6])
end
if ARGV[4] ~= '' then args[#args + 1] = 'EPSILON'; args[#args + 1] = ARGV[4] end
-- a FILTER examines at most FILTER-EF candidates: a larger set may hold unseen matches;
-- on a set no larger, the graph's filtered walk may still miss some (a selective filter):
-- the set is scanned instead, as FILTER-EF allowed
local filtered = ARGV[5] ~= ''
local capped = 0
if filtered and card > tonumber(ARGV[6]) then capped = 1 end
if ARGV[7] == '1' or card <= tonumber(ARGV[10]) or (filtered and capped == 0) then
  args[#args + 1] = 'TRUTH'
end
local found = redis.call(unpack(args))
local out = {1, #found / 2, capped}
for i = 1, #found, 2 do
  local key = found[i]
  local h = redis.call('HMGET', ARGV[8] .. key, 'v', 'm', 'x')
  -- a foreign x (not a number) comes back, for the client to refuse by name
  if h[1] and h[3] ~= '' and tonumber(h[3]) and tonumber(h[3]) <= now then
    -- expired by the cache's clock: left out (the sweeper removes it), counted as returned
  elseif h[1] then
    local blob = ''
    if ARGV[9] == '1' or string.sub(h[1], 1, 2) == '\\216\\002' then
      blob = redis.call('HGET', ARGV[8] .. key, 'f') or ''
    end
    out[#out + 1] = key
    out[#out + 1] = found[i + 1]
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
    out[#out + 1] = h[3]
    out[#out + 1] = blob
  else
    -- the entry is gone (evicted by maxmemory, or expired by Redis): drop its vector
    redis.call('VREM', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
  end
end
return out
"""
"""One shard's candidates with their entries, in one round trip. ARGV: query blob,
count, EF, epsilon ('' none), filter expression ('' none), FILTER-EF, truth ('1': exact
linear scan), entry prefix, with vectors ('1'; else only for values that are the vector),
exact_below (a set this small is scanned exactly too), now (the cache's clock). COUNT, EF and
FILTER-EF are capped at the set's size.
Expiry is tested here, on the candidates' hashes, not in ``FILTER``: a ``FILTER`` makes
the server parse every candidate's attributes (4x the time of a plain ``VSIM``).
A filtered search on a set no larger than FILTER-EF is a scan too: the graph's filtered
walk missed matches of a selective filter there (9 of 10 came back from 3,000 entries),
where the scan, which FILTER-EF allows anyway, misses none.
Returns ``{0, 0}`` (no set), ``{-1, dim}`` (the query's dimension differs) or
``{1, returned, capped, key, score, v, m, x, blob, ...}`` (entries whose hash is gone
are removed from the set and left out, but counted in ``returned``; ``capped`` 1: a
``FILTER`` ran on a set larger than ``FILTER-EF``, so matches may remain unexamined
however few came back)."""

VECTOR_DIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('VDIM', KEYS[1])
"""
"""The dimension of the vector set ``KEYS[1]`` (0: no set)."""

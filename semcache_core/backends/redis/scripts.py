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
-- While the shard's slot migrates, Redis refuses a script any key it does not hold (it may
-- be on the other node), and does not undo what the script did before: so no key is
-- deleted and then used again. Each entry is overwritten in place (VADD replaces an
-- element's vector), and every removal comes after every write, the sets' sizes followed
-- so that one emptied (and so deleted) is not used again.
local n = #KEYS - 2
local last = {}  -- only the last write of a key counts
for i = 1, n do last[ARGV[3 + (i - 1) * 8 + 1]] = i end
for i = 1, n do
  local e, b = KEYS[i + 2], 3 + (i - 1) * 8
  local key, x, ttl, blob = ARGV[b + 1], ARGV[b + 4], ARGV[b + 6], ARGV[b + 7]
  if last[key] == i and ttl ~= '-1' then
    redis.call('HSET', e, 'v', ARGV[b + 2], 'm', ARGV[b + 3], 'x', x, 'k', key,
               'n', ARGV[b + 5])
    if blob ~= '' then
      redis.call('HSET', e, 'f', blob)
      redis.call('VADD', KEYS[1], 'FP32', blob, key, 'NOQUANT', 'SETATTR', ARGV[b + 8],
                 'M', ARGV[2], 'EF', ARGV[3])
      has_set = true
    else
      redis.call('HDEL', e, 'f')
    end
    if ttl == '0' then redis.call('PERSIST', e) else redis.call('PEXPIRE', e, ttl) end
    if x ~= '' then redis.call('ZADD', KEYS[2], x, key) end
  end
end
local vectors = has_set and redis.call('VCARD', KEYS[1]) or 0
local expiries = redis.call('ZCARD', KEYS[2])
for i = 1, n do
  local e, b = KEYS[i + 2], 3 + (i - 1) * 8
  local key, x, ttl, blob = ARGV[b + 1], ARGV[b + 4], ARGV[b + 6], ARGV[b + 7]
  if last[key] == i then
    if ttl == '-1' then redis.call('DEL', e) end
    if vectors > 0 and (ttl == '-1' or blob == '') then
      vectors = vectors - redis.call('VREM', KEYS[1], key)
    end
    if expiries > 0 and (ttl == '-1' or x == '') then
      expiries = expiries - redis.call('ZREM', KEYS[2], key)
    end
  end
end
return {'ok', n}
"""
"""Replace entries of one shard (``ttl_ms`` ``-1``: remove only, the entry is born
expired; ``0``: no expiry; of a key given twice, the last write). ``ARGV[1..3]``: dim (0
without vectors), M, EF.
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
local e = KEYS[3]
local x = redis.call('HGET', e, 'x')
redis.call('DEL', e)
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('VREM', KEYS[1], ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[2])
if not x then return {0, ''} end
return {1, x}
"""
"""Remove one entry; KEYS[3]: its hash (declared, as every key a script changes: in a
slot under migration Redis then refuses the script whole rather than run it where the hash
is not); ARGV: entry prefix, key. Returns ``{existed, x}``."""

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
local e = KEYS[3]
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
"""Give one live entry a new expiry; KEYS[3]: its hash (declared, as DELETE's); ARGV:
entry prefix, key, now, ``x`` ('' never),
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
if redis.call('EXISTS', KEYS[1]) == 0 then return cmsgpack.pack({0, 0}) end
local now = tonumber(ARGV[11])
local dim = redis.call('VDIM', KEYS[1])
if dim * 4 ~= string.len(ARGV[1]) then return cmsgpack.pack({-1, dim}) end
local card = redis.call('VCARD', KEYS[1])
-- no search returns more than the set holds: a larger COUNT, EF or FILTER-EF (a huge k)
-- overflows the server's counters or has it allocate without bound
local function upto(n) return string.format('%d', math.min(tonumber(n), card)) end
local args = {'VSIM', KEYS[1], 'FP32', ARGV[1], 'WITHSCORES', 'COUNT', upto(ARGV[2]),
              'EF', upto(ARGV[3])}
if ARGV[5] ~= '' then args[#args + 1] = 'FILTER'; args[#args + 1] = ARGV[5] end
if ARGV[4] ~= '' then args[#args + 1] = 'EPSILON'; args[#args + 1] = ARGV[4] end
-- a scan (TRUTH) is exact: the top COUNT of the set (of FILTER's matches). A filter is
-- walked only where the walk costs less than the scan: see the docstring for the figures
local filtered = ARGV[5] ~= ''
local function scan_pays()
  local ef = math.max(tonumber(ARGV[2]), tonumber(ARGV[3]))
  if card <= tonumber(ARGV[6]) or card < 75 * ef then return true end
  -- s: the matches of a walk of 16 nodes, which tests about 23 neighbours of each (M 16)
  local seen = #redis.call('VSIM', KEYS[1], 'FP32', ARGV[1], 'COUNT', upto(512),
                           'EF', upto(512), 'FILTER', ARGV[5], 'FILTER-EF', '16')
  local s = math.max(seen, 1) / 368
  return card * (0.2 + s) < 90 * ef / math.sqrt(s)
end
local found
if ARGV[7] == '1' or card <= tonumber(ARGV[10]) or (filtered and scan_pays()) then
  args[#args + 1] = 'TRUTH'
  found = redis.call(unpack(args))
elseif filtered then
  local walk = {unpack(args)}
  walk[#walk + 1] = 'FILTER-EF'; walk[#walk + 1] = upto(ARGV[6])
  found = redis.call(unpack(walk))
  if #found / 2 < math.min(tonumber(ARGV[2]), card) then  -- short: scanned instead
    args[#args + 1] = 'TRUTH'
    found = redis.call(unpack(args))
  end
else
  found = redis.call(unpack(args))
  -- without a threshold, a walk returns COUNT unless the graph cannot reach that many
  -- nodes (a few in a thousand on a large set): then the scan, which reaches them all
  if ARGV[4] == '' and #found / 2 < math.min(tonumber(ARGV[2]), card) then
    args[#args + 1] = 'TRUTH'
    found = redis.call(unpack(args))
  end
end
local out = {1, #found / 2}
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
-- one msgpack string: a reply of thousands of candidates reads 6x faster than as an array
return cmsgpack.pack(out)
"""
"""One shard's candidates with their entries, in one round trip. ARGV: query blob,
count, EF, epsilon ('' none), filter expression ('' none), the filtered walk's FILTER-EF,
scan ('1': an exact linear scan, ``TRUTH``), entry prefix, with vectors ('1'; else only for
values that are the vector), exact_below (a set this small is scanned too), now (the cache's
clock). COUNT, EF and FILTER-EF are capped at the set's size.
Expiry is tested here, on the candidates' hashes, not in ``FILTER``: a ``FILTER`` makes
the server parse every candidate's attributes (4x the time of a plain ``VSIM``).
A filtered search walks the graph or scans the set, whichever costs less. The walk computes
the distance of every neighbour of every node it passes, matching or not, so a selective
filter makes it long; the scan tests the filter on every element and computes distances
for the matches only. In distance computations, with s the share of elements matching and
ef = max(COUNT, EF), a scan costs card (0.2 + s) and a walk about 90 ef / sqrt(s) (Redis
8.2, 20,000 random vectors of 384 floats, M 16, ef 100: the walk took 4.8 ms at s = 1 and
20 ms at s = 0.01, the scan 12.8 ms and 2.1 ms). s comes from a walk of 16 nodes (0.7 ms
there), skipped where card < 75 ef (the scan then costs less whatever s) or card <=
FILTER-EF (scanned, as FILTER-EF allows: the walk missed matches of a selective filter
there, 9 of 10 came back from 3,000 entries). A walk that finds fewer than COUNT matches
(it stops after FILTER-EF nodes) is followed by the scan, which misses none, as is a walk
without a filter or a threshold that returns fewer than COUNT (the graph reaches a few in a
thousand elements of a large set by no path: a search for all 20,000 returned 19,847), so
a short reply means the shard holds no more matches (an unfiltered walk with a threshold
is approximate, as any graph search).
Returns, packed as one msgpack array (redis-py reads a reply of 1,500 candidates as an
array in 15 ms, as one string in 2.5 ms), ``{0, 0}`` (no set), ``{-1, dim}`` (the query's
dimension differs) or ``{1, returned, key, score, v, m, x, blob, ...}`` (entries whose hash
is gone are removed from the set and left out, but counted in ``returned``, as are expired
ones)."""

VECTOR_DIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('VDIM', KEYS[1])
"""
"""The dimension of the vector set ``KEYS[1]`` (0: no set)."""

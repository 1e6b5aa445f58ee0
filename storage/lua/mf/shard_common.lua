-- Shared by the model's shard scripts (storage/model_store.py). Arguments travel packed (ids as
-- int64 strings, rows as one blob): redis-py packing a key and a row per argument was half of a
-- batch's time. KEYS[1] is the shard's applied hash; every other key carries its hash tag, so the
-- script touches one slot, as a Redis Cluster requires.
local SLICE = 1000
local tag = string.match(KEYS[1], '{.-}')

-- ``command`` over ``list`` in slices (Lua's unpack is bounded by its stack); replies joined
local function call_sliced(command, head, list, step)
  local out = {}
  for first = 1, #list, SLICE * step do
    local args = {}
    if head then args[1] = head end
    for j = first, math.min(first + SLICE * step - 1, #list) do args[#args + 1] = list[j] end
    local reply = redis.call(command, unpack(args))
    if type(reply) == 'table' then for _, v in ipairs(reply) do out[#out + 1] = v end end
  end
  return out
end

-- an id as the key and field text Python writes: Lua numbers are doubles, and concatenation writes
-- 15 significant digits (1e+15 for 10^15); '%.0f' is exact up to 2^53, the largest id the API takes
local function id_text(id) return string.format('%.0f', id) end

local function ids_of(packed)
  local out = {}
  for pos = 1, #packed, 8 do out[#out + 1] = id_text(struct.unpack('<i8', packed, pos)) end
  return out
end

local function keys_of(prefix, ids)
  local out = {}
  for j = 1, #ids do out[j] = prefix .. tag .. ':' .. ids[j] end
  return out
end

local function values_of(keys)  -- '' where absent
  local out = call_sliced('MGET', nil, keys, 1)
  for j = 1, #keys do out[j] = out[j] or '' end
  return out
end

local function mark_fields(topic, partitions)
  local out = {}
  for pos = 1, #partitions, 4 do out[#out + 1] = topic .. ':' .. struct.unpack('<i4', partitions, pos) end
  return out
end

-- the applied offsets of the batch's partitions, as strings ('-1': none yet)
local function marks(fields)
  local now = redis.call('HMGET', KEYS[1], unpack(fields))
  for j = 1, #fields do now[j] = now[j] or '-1' end
  return now
end

local function marks_unchanged(now, expected)
  for j = 1, #now do
    if tonumber(now[j]) ~= struct.unpack('<i8', expected, 8 * j - 7) then return false end
  end
  return true
end

-- every row about to be replaced is still what the batch started from, byte for byte
local function rows_unchanged(now, present, old, width)
  for j = 1, #now do
    if string.byte(present, j) == 1 then
      if now[j] ~= string.sub(old, width * (j - 1) + 1, width * j) then return false end
    elseif now[j] ~= '' then return false end
  end
  return true
end

local function set_marks(fields, new_offsets)
  local pairs_ = {}
  for j = 1, #fields do
    pairs_[#pairs_ + 1] = fields[j]
    pairs_[#pairs_ + 1] = struct.unpack('<i8', new_offsets, 8 * j - 7)
  end
  redis.call('HSET', KEYS[1], unpack(pairs_))
end

local function write_rows(keys, rows, width)
  local pairs_ = {}
  for j = 1, #keys do
    pairs_[#pairs_ + 1] = keys[j]
    pairs_[#pairs_ + 1] = string.sub(rows, width * (j - 1) + 1, width * j)
  end
  if #pairs_ > 0 then call_sliced('MSET', nil, pairs_, 2) end
end

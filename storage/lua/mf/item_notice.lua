-- Appends a notice to the item rows' change log (storage/item_log.py) for the API processes'
-- copies. KEYS: the log's sequence, its epoch and the stream, all in one slot.
local function append_notice(seq_key, epoch_key, log_key, cap, field_name, value)
  if not redis.call('GET', epoch_key) then
    local now = redis.call('TIME')
    redis.call('SET', epoch_key, now[1] .. '.' .. now[2])
  end
  local seq = redis.call('INCR', seq_key)
  redis.call('XADD', log_key, 'MAXLEN', '~', cap, seq .. '-0', field_name, value)
end

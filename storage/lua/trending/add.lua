-- Rescale (ARGV[1]: the factor), move the epoch (ARGV[2]) and add the increments (score, movie,
-- score, movie, ...) in one atomic step: a script, as a MULTI over a cluster client is less sure-footed.
-- KEYS: the scores' sorted set, the epoch.
if tonumber(ARGV[1]) ~= 1 then redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[2])
for i = 3, #ARGV, 2 do redis.call('ZINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end

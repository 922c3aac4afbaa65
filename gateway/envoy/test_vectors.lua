-- Checks gateway/envoy/tokenwatch.lua against gateway/vectors.json with a stock LuaJIT (Envoy's
-- Lua), through the filter's own entry point (envoy_on_request) with a stub of Envoy's handle.
--
--   luajit gateway/envoy/test_vectors.lua gateway/vectors.json     prints "ok: ..." or fails (exit 1)
--   luajit gateway/envoy/test_vectors.lua --sha256-lengths 130      hex SHA-256 of "a" * n, n = 0..130

local dir = (arg[0]:match("^(.*[/\\])") or "./")

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- loads a fresh copy of the filter with a key, as an Envoy worker would
local function load_filter(key)
  rawset(_G, "tokenwatch_fp_key", key)
  local tw = dofile(dir .. "tokenwatch.lua")
  rawset(_G, "tokenwatch_fp_key", nil)
  return tw
end

local tw = load_filter(nil)

if arg[1] == "--sha256-lengths" then
  for n = 0, tonumber(arg[2]) do io.write(n, " ", hex(tw.sha256(string.rep("a", n))), "\n") end
  os.exit(0)
end

local failures, checked = {}, 0
local function check(name, got, want)
  checked = checked + 1
  if got ~= want then failures[#failures + 1] = string.format("%s: got %q, want %q", name, tostring(got), tostring(want)) end
end

-- FIPS 180-2 / RFC 4231 known answers
check("sha256('')", hex(tw.sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
check("sha256('abc')", hex(tw.sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
check("sha256(448 bits)", hex(tw.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
check("sha256(1M a)", hex(tw.sha256(string.rep("a", 1000000))), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
check("RFC 4231 case 2", hex(tw.hmac_sha256_keyed("Jefe")("what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
check("RFC 4231 case 6 (131-byte key)", hex(tw.hmac_sha256_keyed(string.rep("\170", 131))("Test Using Larger Than Block-Size Key - Hash Key First")), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")

local f = assert(io.open(arg[1] or (dir .. "../vectors.json"), "rb"))
local table_ = tw.json_decode(f:read("*a"))
f:close()
assert(table_ and table_.scheme == "tfp1", "could not read the vectors file")

local nvec = 0
for _, v in ipairs(table_.vectors) do
  nvec = nvec + 1
  check(v.name .. " (tfp1)", tw.tfp1(v.key, v.credential), v.fp)
  -- through envoy_on_request with Envoy's handle API
  local filter = load_filter(v.key)
  local md = {}
  local headers = { [v.header] = v.credential }
  local handle = {
    headers = function() return { get = function(_, name) return headers[name] end } end,
    streamInfo = function() return { dynamicMetadata = function() return { set = function(_, ns, k, val) md[ns .. ":" .. k] = val end } end } end,
    logErr = function(_, msg) error("unexpected logErr: " .. msg) end,
  }
  envoy_on_request(handle)
  check(v.name .. " (metadata fp)", md["tokenwatch:fp"], v.fp)
  check(v.name .. " (metadata cred_type)", md["tokenwatch:cred_type"], v.cred_type)
  local jwt = v.jwt ~= tw.null and v.jwt or nil
  for _, k in ipairs({ "sub", "sid", "jti", "exp", "client_id" }) do
    check(v.name .. " (" .. k .. ")", md["tokenwatch:" .. k], jwt and jwt[k] or "")
  end
  local c = filter.claims(filter.strip_scheme(v.credential))
  check(v.name .. " (is a JWT)", c ~= nil, jwt ~= nil)
end

local ninv = 0
for _, v in ipairs(table_.invalid) do
  ninv = ninv + 1
  local fp = tw.tfp1(v.key, v.credential)
  if v.error == "short_key" then check(v.name, fp, nil) else check(v.name, fp, "") end
end

local ncase = 0
for _, c in ipairs(table_.gateway_cases) do
  ncase = ncase + 1
  local r = tw.inspect(tw.hmac_sha256_keyed(c.key), c.headers.authorization, c.headers["x-api-key"])
  check(c.name .. " (fp)", r.fp, c.expect.tw_fp)
  check(c.name .. " (cred_type)", r.cred_type, c.expect.tw_cred_type)
end

-- speed, for the README: one fingerprint of a typical JWT bearer token
local mac = tw.hmac_sha256_keyed("0123456789abcdef")
local jwt = "Bearer " .. string.rep("x", 1000)
local t0, n = os.clock(), 2000
for _ = 1, n do tw.inspect(mac, jwt, nil) end
local us = (os.clock() - t0) / n * 1e6

if #failures > 0 then
  io.stderr:write(#failures .. " of " .. checked .. " checks failed:\n  " .. table.concat(failures, "\n  ") .. "\n")
  os.exit(1)
end
print(string.format("ok: %d vectors, %d invalid, %d gateway cases, %d checks (%s); %.1f us per 1 KB bearer token",
  nvec, ninv, ncase, checked, jit and jit.version or _VERSION, us))

-- Checks gateway/kong/tokenwatch_kong.lua against gateway/vectors.json with a stock LuaJIT (Kong
-- runs on OpenResty's LuaJIT) and Debian's lua-cjson. Kong itself cannot be installed here, so
-- what Kong provides is stubbed: ngx.ctx, ngx.encode_base64 / decode_base64 (standard base64,
-- written below), kong.request.get_header, kong.log, and resty.openssl.hmac, whose HMAC-SHA-256
-- comes from gateway/envoy/tokenwatch.lua (checked against FIPS / RFC 4231 answers there). What is
-- tested is this module's own logic: header choice, scheme and white space, base64url, claims,
-- one computation per request, and the resty.openssl.hmac call shape.
--
--   luajit gateway/kong/test_vectors.lua gateway/vectors.json

local dir = (arg[0]:match("^(.*[/\\])") or "./")
local envoy = dofile(dir .. "../envoy/tokenwatch.lua")

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function encode_base64(s, no_padding)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local function ch(n) return B64:sub(n + 1, n + 1) end
    out[#out + 1] = ch(math.floor(v / 262144) % 64) .. ch(math.floor(v / 4096) % 64)
      .. (b and ch(math.floor(v / 64) % 64) or (no_padding and "" or "=")) .. (c and ch(v % 64) or (no_padding and "" or "="))
  end
  return table.concat(out)
end
local function decode_base64(s)
  if #s % 4 ~= 0 or s:find("[^%w+/=]") then return nil end
  return envoy.b64url_decode((s:gsub("=+$", ""):gsub("[+/]", { ["+"] = "-", ["/"] = "_" })))
end

local hmac_calls = 0
package.preload["resty.openssl.hmac"] = function()
  return {
    new = function(key, typ)
      assert(typ == "sha256", "digest must be sha256")
      local mac = envoy.hmac_sha256_keyed(key)
      return { final = function(_, data) hmac_calls = hmac_calls + 1; return mac(data) end }
    end,
  }
end

local headers, errors = {}, {}
ngx = { ctx = {}, encode_base64 = encode_base64, decode_base64 = decode_base64 }
kong = {
  request = { get_header = function(name) return headers[name] end },
  log = { err = function(...) errors[#errors + 1] = table.concat({ ... }) end },
}

local failures, checked = {}, 0
local function check(name, got, want)
  checked = checked + 1
  if got ~= want then failures[#failures + 1] = string.format("%s: got %q, want %q", name, tostring(got), tostring(want)) end
end

check("base64 stub", encode_base64("\251\255\190"), "+/++")

local function load_module(key)
  package.loaded["tokenwatch_kong"] = nil
  local getenv = os.getenv
  os.getenv = function(n) if n == "TOKENWATCH_FP_KEY" then return key end return getenv(n) end
  local m = require("tokenwatch_kong")
  os.getenv = getenv
  return m
end
package.path = dir .. "?.lua;" .. package.path

local f = assert(io.open(arg[1] or (dir .. "../vectors.json"), "rb"))
local vt = envoy.json_decode(f:read("*a"))
f:close()

local FIELDS = { "tw_fp", "tw_cred_type", "tw_sub", "tw_sid", "tw_jti", "tw_exp", "tw_client_id" }

-- one request through custom_fields_by_lua: every field, one HMAC
local function request(m, hdrs)
  headers, ngx.ctx, hmac_calls = hdrs, {}, 0
  local got = {}
  for _, name in ipairs(FIELDS) do got[name] = m.field(name) end
  return got
end

local nvec = 0
for _, v in ipairs(vt.vectors) do
  nvec = nvec + 1
  local m = load_module(v.key)
  check(v.name .. " (tfp1)", m.tfp1(v.key, v.credential), v.fp)
  local got = request(m, { [v.header] = v.credential })
  check(v.name .. " (tw_fp)", got.tw_fp, v.fp)
  check(v.name .. " (one HMAC per request)", hmac_calls, 1)
  check(v.name .. " (tw_cred_type)", got.tw_cred_type, v.cred_type)
  local jwt = v.jwt ~= envoy.null and v.jwt or nil
  for _, k in ipairs({ "sub", "sid", "jti", "exp", "client_id" }) do
    check(v.name .. " (tw_" .. k .. ")", got["tw_" .. k], jwt and jwt[k] or "")
  end
end

local ninv = 0
for _, v in ipairs(vt.invalid) do
  ninv = ninv + 1
  local m = load_module(v.key)
  local fp = m.tfp1(v.key, v.credential)
  if v.error == "short_key" then check(v.name, fp, nil) else check(v.name, fp, "") end
  errors = {}
  local got = request(m, { authorization = v.credential })
  check(v.name .. " (tw_fp)", got.tw_fp, "")
  if v.error == "short_key" then check(v.name .. " (logged)", #errors, 1) end
  for _, e in ipairs(errors) do
    check(v.name .. " (no credential in the log)", e:find(v.credential, 1, true), nil)
  end
end

local ncase = 0
for _, c in ipairs(vt.gateway_cases) do
  ncase = ncase + 1
  local got = request(load_module(c.key), c.headers)
  check(c.name .. " (tw_fp)", got.tw_fp, c.expect.tw_fp)
  check(c.name .. " (tw_cred_type)", got.tw_cred_type, c.expect.tw_cred_type)
end

if #failures > 0 then
  io.stderr:write(#failures .. " of " .. checked .. " checks failed:\n  " .. table.concat(failures, "\n  ") .. "\n")
  os.exit(1)
end
print(string.format("ok: %d vectors, %d invalid, %d gateway cases, %d checks (%s, stubbed Kong PDK)", nvec, ninv, ncase, checked, jit and jit.version or _VERSION))

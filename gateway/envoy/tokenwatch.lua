-- tokenwatch for Envoy's Lua HTTP filter (envoy.filters.http.lua, LuaJIT): the tfp1 fingerprint
-- of the request's credential and the claims of an unverified JWT, as dynamic metadata in the
-- `tokenwatch` namespace, for %DYNAMIC_METADATA(tokenwatch:fp)% in the access log.
--
--   tfp1 = "tfp1:" .. first 22 chars of base64url(HMAC-SHA-256(key, credential)), credential =
--   the header value (UTF-8) without a leading case-insensitive "Bearer" scheme, trimmed of
--   JavaScript white space. Same as tokenwatch's schemas/fingerprint.ts; checked against
--   gateway/vectors.json.
--
-- Envoy's Lua API has no HMAC or SHA-256 (only base64Escape, importPublicKey / verifySignature
-- and timestamps), so SHA-256 is written here in Lua on LuaJIT's `bit` library; the key's HMAC
-- pads are hashed once per worker. About 35 µs per request for a 1 KB bearer token (LuaJIT 2.1,
-- one core of the CI machine).
--
-- Key: the TOKENWATCH_FP_KEY environment variable of the Envoy process (read when the worker
-- loads the script), or, when that is not possible, set `tokenwatch_fp_key = "..."` in a small
-- inline_code that runs before this file. The raw credential is never stored or logged.
--
-- Metadata keys: fp, cred_type (access_token | api_key), sub, sid, jti, exp, client_id
-- ("" = absent). Which credential: Authorization with the Bearer scheme, else X-API-Key.

local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit = bit.rshift, bit.lshift, bit.ror, bit.tobit
local byte, char, sub, concat = string.byte, string.char, string.sub, table.concat
local floor = math.floor

local M = {}

-- ------------------------------------------------------------------ SHA-256 (FIPS 180-4)
local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
for i = 1, 64 do K[i] = tobit(K[i]) end
local H0 = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
for i = 1, 8 do H0[i] = tobit(H0[i]) end

local W = {}
local function compress(H, s, off)
  for i = 1, 16 do
    local a, b, c, d = byte(s, off + i * 4 - 3, off + i * 4)
    W[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
  end
  for i = 17, 64 do
    local w15, w2 = W[i - 15], W[i - 2]
    local s0 = bxor(ror(w15, 7), ror(w15, 18), rshift(w15, 3))
    local s1 = bxor(ror(w2, 17), ror(w2, 19), rshift(w2, 10))
    W[i] = tobit(W[i - 16] + s0 + W[i - 7] + s1)
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for i = 1, 64 do
    local t1 = h + bxor(ror(e, 6), ror(e, 11), ror(e, 25)) + bxor(band(e, f), band(bnot(e), g)) + K[i] + W[i]
    local t2 = bxor(ror(a, 2), ror(a, 13), ror(a, 22)) + bxor(band(a, b), band(a, c), band(b, c))
    h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
  end
  H[1], H[2], H[3], H[4] = tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d)
  H[5], H[6], H[7], H[8] = tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)
end

local function copy8(H)
  return { H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8] }
end

-- Finishes a hash whose state H already absorbed `prefix` bytes (a multiple of 64).
local function finish(H, prefix, msg)
  local n = #msg
  local bits = (prefix + n) * 8
  local pad = 64 - (n + 9) % 64
  if pad == 64 then pad = 0 end
  local hi, lo = floor(bits / 4294967296), bits % 4294967296
  local tail = "\128" .. string.rep("\0", pad) .. char(
    band(rshift(hi, 24), 255), band(rshift(hi, 16), 255), band(rshift(hi, 8), 255), band(hi, 255),
    band(rshift(lo, 24), 255), band(rshift(lo, 16), 255), band(rshift(lo, 8), 255), band(lo, 255))
  local s = msg .. tail
  for off = 0, #s - 64, 64 do compress(H, s, off) end
  local out = {}
  for i = 1, 8 do
    local v = H[i]
    out[i] = char(band(rshift(v, 24), 255), band(rshift(v, 16), 255), band(rshift(v, 8), 255), band(v, 255))
  end
  return concat(out)
end

function M.sha256(msg)
  return finish(copy8(H0), 0, msg)
end

-- HMAC-SHA-256 (RFC 2104) with the key's pads hashed once: returns function(msg) -> 32 bytes.
function M.hmac_sha256_keyed(key)
  if #key > 64 then key = M.sha256(key) end
  key = key .. string.rep("\0", 64 - #key)
  local ipad, opad = {}, {}
  for i = 1, 64 do
    local k = byte(key, i)
    ipad[i] = char(bxor(k, 0x36))
    opad[i] = char(bxor(k, 0x5c))
  end
  local istate, ostate = copy8(H0), copy8(H0)
  compress(istate, concat(ipad), 0)
  compress(ostate, concat(opad), 0)
  return function(msg)
    return finish(copy8(ostate), 64, finish(copy8(istate), 64, msg))
  end
end

-- ------------------------------------------------------------------ base64url
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local B64ENC, B64DEC = {}, {}
for i = 1, 64 do
  B64ENC[i - 1] = sub(B64, i, i)
  B64DEC[byte(B64, i)] = i - 1
end

-- base64url without padding
function M.b64url(s)
  local out, n = {}, #s
  for i = 1, n, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = B64ENC[floor(v / 262144) % 64] .. B64ENC[floor(v / 4096) % 64]
      .. (b and B64ENC[floor(v / 64) % 64] or "") .. (c and B64ENC[v % 64] or "")
  end
  return concat(out)
end

-- decodes base64url (no padding); nil on a character outside the alphabet or a bad length
function M.b64url_decode(s)
  local out, acc, nbits = {}, 0, 0
  for i = 1, #s do
    local v = B64DEC[byte(s, i)]
    if v == nil then return nil end
    acc = acc * 64 + v
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      local p = 2 ^ nbits
      out[#out + 1] = char(floor(acc / p))
      acc = acc % p
    end
  end
  if nbits >= 6 then return nil end
  return concat(out)
end

-- ------------------------------------------------------------------ JavaScript white space, UTF-8
local WS1 = { [9] = true, [10] = true, [11] = true, [12] = true, [13] = true, [32] = true }
local WS3 = {
  ["\225\154\128"] = true, -- U+1680
  ["\226\128\168"] = true, ["\226\128\169"] = true, ["\226\128\175"] = true, -- U+2028 U+2029 U+202F
  ["\226\129\159"] = true, ["\227\128\128"] = true, ["\239\187\191"] = true, -- U+205F U+3000 U+FEFF
}
for c = 0x80, 0x8a do WS3["\226\128" .. char(c)] = true end -- U+2000..U+200A
local NBSP = "\194\160"

-- byte length of the white-space character starting at i (0 if none)
local function ws_at(s, i)
  local b = byte(s, i)
  if b == nil then return 0 end
  if WS1[b] then return 1 end
  if b == 0xc2 and sub(s, i, i + 1) == NBSP then return 2 end
  if b >= 0xe1 and b <= 0xef and WS3[sub(s, i, i + 2)] then return 3 end
  return 0
end

-- byte length of the white-space character ending at j (0 if none)
local function ws_before(s, j)
  if j < 1 then return 0 end
  if WS1[byte(s, j)] then return 1 end
  if j >= 2 and sub(s, j - 1, j) == NBSP then return 2 end
  if j >= 3 and WS3[sub(s, j - 2, j)] then return 3 end
  return 0
end

function M.trim(s)
  local i, j = 1, #s
  while i <= j do
    local n = ws_at(s, i)
    if n == 0 then break end
    i = i + n
  end
  while j >= i do
    local n = ws_before(s, j)
    if n == 0 then break end
    j = j - n
  end
  return sub(s, i, j)
end

local function has_scheme(t) -- t already trimmed
  return #t >= 6 and sub(t, 1, 6):lower() == "bearer" and (#t == 6 or ws_at(t, 7) > 0)
end

-- schemas/fingerprint.ts stripScheme(): trim, drop a leading "Bearer" and its white space, trim
function M.strip_scheme(s)
  local t = M.trim(s)
  if has_scheme(t) then t = M.trim(sub(t, 7)) end
  return t
end

-- ------------------------------------------------------------------ a small JSON reader
local json_value
local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xc0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then return char(0xe0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64) end
  return char(0xf0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

local function skip(s, i)
  local _, e = string.find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local function json_string(s, i) -- s:sub(i, i) == '"'
  local out = {}
  i = i + 1
  while true do
    local a, b = string.find(s, '^[^"\\]+', i)
    if a then
      out[#out + 1] = sub(s, a, b)
      i = b + 1
    end
    local c = sub(s, i, i)
    if c == '"' then return concat(out), i + 1 end
    if c ~= "\\" then error("json: unterminated string") end
    local e = sub(s, i + 1, i + 1)
    if ESC[e] then
      out[#out + 1] = ESC[e]
      i = i + 2
    elseif e == "u" then
      local hex = sub(s, i + 2, i + 5)
      if not hex:match("^%x%x%x%x$") then error("json: bad \\u escape") end
      local cp = tonumber(hex, 16)
      i = i + 6
      if cp >= 0xd800 and cp <= 0xdbff and sub(s, i, i + 1) == "\\u" then
        local lo = tonumber(sub(s, i + 2, i + 5), 16)
        if lo and lo >= 0xdc00 and lo <= 0xdfff then
          cp = 0x10000 + (cp - 0xd800) * 1024 + (lo - 0xdc00)
          i = i + 6
        end
      end
      out[#out + 1] = utf8_char(cp)
    else
      error("json: bad escape")
    end
  end
end

json_value = function(s, i)
  i = skip(s, i)
  local c = sub(s, i, i)
  if c == "{" then
    local obj = {}
    i = skip(s, i + 1)
    if sub(s, i, i) == "}" then return obj, i + 1 end
    while true do
      if sub(s, i, i) ~= '"' then error("json: expected a key") end
      local k
      k, i = json_string(s, i)
      i = skip(s, i)
      if sub(s, i, i) ~= ":" then error("json: expected ':'") end
      obj[k], i = json_value(s, i + 1)
      i = skip(s, i)
      local d = sub(s, i, i)
      if d == "}" then return obj, i + 1 end
      if d ~= "," then error("json: expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = { __json_array = true }
    i = skip(s, i + 1)
    if sub(s, i, i) == "]" then return arr, i + 1 end
    while true do
      arr[#arr + 1], i = json_value(s, i)
      i = skip(s, i)
      local d = sub(s, i, i)
      if d == "]" then return arr, i + 1 end
      if d ~= "," then error("json: expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return json_string(s, i)
  elseif sub(s, i, i + 3) == "true" then
    return true, i + 4
  elseif sub(s, i, i + 4) == "false" then
    return false, i + 5
  elseif sub(s, i, i + 3) == "null" then
    return M.null, i + 4
  else
    local a, b = string.find(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if not a then error("json: unexpected character") end
    return tonumber(sub(s, a, b)), b + 1
  end
end

M.null = setmetatable({}, { __tostring = function() return "null" end })

-- decodes JSON text; nil on malformed input
function M.json_decode(s)
  local ok, v, i = pcall(json_value, s, 1)
  if not ok or skip(s, i) <= #s then return nil end
  return v
end

-- ------------------------------------------------------------------ tfp1 and claims
local function str(v)
  return type(v) == "string" and v or ""
end

-- claims of an unverified JWS payload (sub, sid, jti, exp, client_id); nil when not a JWT
function M.claims(credential)
  local h, p, sig = credential:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]*)$")
  if not h then return nil end
  local raw = M.b64url_decode(p)
  if raw == nil then return nil end
  local obj = M.json_decode(raw)
  if type(obj) ~= "table" or obj == M.null or obj.__json_array then return nil end
  local exp = ""
  if type(obj.exp) == "number" and obj.exp >= 0 and obj.exp < 1e15 then exp = string.format("%.0f", floor(obj.exp)) end
  local client_id = str(obj.client_id)
  if client_id == "" then client_id = str(obj.azp) end
  return { sub = str(obj.sub), sid = str(obj.sid), jti = str(obj.jti), exp = exp, client_id = client_id }
end

-- tfp1 of a raw credential with a keyed HMAC function; "" when nothing is left after the scheme
function M.tfp1_with(mac, raw)
  local value = M.strip_scheme(raw)
  if value == "" then return "" end
  return "tfp1:" .. sub(M.b64url(mac(value)), 1, 22)
end

-- tfp1 with a key string (>= 16 bytes); nil and a message when the key is unusable
function M.tfp1(key, raw)
  if type(key) ~= "string" or #key < 16 then return nil, "TOKENWATCH_FP_KEY must be at least 16 bytes" end
  return M.tfp1_with(M.hmac_sha256_keyed(key), raw)
end

-- what a request presents: { fp, cred_type, sub, sid, jti, exp, client_id } ("" = absent)
function M.inspect(mac, authorization, api_key)
  local picked, cred_type
  local auth = authorization and M.trim(authorization) or ""
  if has_scheme(auth) and M.strip_scheme(auth) ~= "" then
    picked, cred_type = auth, "access_token"
  elseif api_key and M.strip_scheme(api_key) ~= "" then
    picked, cred_type = api_key, "api_key"
  end
  local r = { fp = "", cred_type = "", sub = "", sid = "", jti = "", exp = "", client_id = "" }
  if not picked then return r end
  r.cred_type = cred_type
  if mac then r.fp = M.tfp1_with(mac, picked) end
  local c = M.claims(M.strip_scheme(picked))
  if c then
    r.sub, r.sid, r.jti, r.exp, r.client_id = c.sub, c.sid, c.jti, c.exp, c.client_id
  end
  return r
end

M.FIELDS = { "fp", "cred_type", "sub", "sid", "jti", "exp", "client_id" }

-- ------------------------------------------------------------------ the Envoy filter
local key = rawget(_G, "tokenwatch_fp_key") or os.getenv("TOKENWATCH_FP_KEY")
local MAC = nil
if type(key) == "string" and #key >= 16 then MAC = M.hmac_sha256_keyed(key) end
key = nil

function envoy_on_request(handle)
  local ok, r = pcall(function()
    local headers = handle:headers()
    return M.inspect(MAC, headers:get("authorization"), headers:get("x-api-key"))
  end)
  if not ok then
    handle:logErr("tokenwatch: could not inspect the credential")
    return
  end
  if MAC == nil and r.cred_type ~= "" then
    handle:logErr("tokenwatch: TOKENWATCH_FP_KEY is not set or shorter than 16 bytes: no fingerprint")
  end
  local md = handle:streamInfo():dynamicMetadata()
  for _, f in ipairs(M.FIELDS) do md:set("tokenwatch", f, r[f]) end
end

function envoy_on_response(handle)
end

tokenwatch = M
return M

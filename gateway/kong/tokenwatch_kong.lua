-- tokenwatch for Kong: the tfp1 fingerprint of the request's credential and the claims of an
-- unverified JWT, as top-level fields of the http-log / file-log / kafka-log / tcp-log / udp-log
-- record, through the plugins' `custom_fields_by_lua`.
--
--   tfp1 = "tfp1:" .. first 22 chars of base64url(HMAC-SHA-256(key, credential)), credential =
--   the header value (UTF-8) without a leading case-insensitive "Bearer" scheme, trimmed of
--   JavaScript white space. Same as tokenwatch's schemas/fingerprint.ts; checked against
--   gateway/vectors.json.
--
-- Uses what Kong bundles: lua-resty-openssl (resty.openssl.hmac, HMAC-SHA-256 in OpenSSL; ngx's
-- own ngx.hmac_sha1 is SHA-1 only), ngx.encode_base64(s, true) made URL-safe, and cjson.safe.
--
-- Install: put this file on Kong's lua_package_path and allow it in the sandbox (kong.conf):
--   lua_package_path = /etc/kong/lua/?.lua;;
--   untrusted_lua_sandbox_requires = tokenwatch_kong
--   nginx_main_env = TOKENWATCH_FP_KEY          # NGINX workers drop the environment otherwise
-- then each custom field is `return require("tokenwatch_kong").field("tw_fp")` (see kong.yml).
-- The work is done once per request (kept in ngx.ctx); the raw credential is never returned,
-- stored or logged.

local hmac = require("resty.openssl.hmac")
local cjson = require("cjson.safe")

local byte, sub = string.byte, string.sub
local floor = math.floor

local M = {}

-- ------------------------------------------------------------------ JavaScript white space, UTF-8
local WS1 = { [9] = true, [10] = true, [11] = true, [12] = true, [13] = true, [32] = true }
local WS3 = {
  ["\225\154\128"] = true, -- U+1680
  ["\226\128\168"] = true, ["\226\128\169"] = true, ["\226\128\175"] = true, -- U+2028 U+2029 U+202F
  ["\226\129\159"] = true, ["\227\128\128"] = true, ["\239\187\191"] = true, -- U+205F U+3000 U+FEFF
}
for c = 0x80, 0x8a do WS3["\226\128" .. string.char(c)] = true end -- U+2000..U+200A
local NBSP = "\194\160"

local function ws_at(s, i)
  local b = byte(s, i)
  if b == nil then return 0 end
  if WS1[b] then return 1 end
  if b == 0xc2 and sub(s, i, i + 1) == NBSP then return 2 end
  if b >= 0xe1 and b <= 0xef and WS3[sub(s, i, i + 2)] then return 3 end
  return 0
end

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

function M.strip_scheme(s)
  local t = M.trim(s)
  if has_scheme(t) then t = M.trim(sub(t, 7)) end
  return t
end

-- ------------------------------------------------------------------ tfp1
local function b64url(s)
  return (ngx.encode_base64(s, true):gsub("[+/]", { ["+"] = "-", ["/"] = "_" }))
end

-- tfp1 of a raw credential; "" when nothing is left after the scheme; nil, err on a bad key
function M.tfp1(key, raw)
  if type(key) ~= "string" or #key < 16 then return nil, "TOKENWATCH_FP_KEY must be at least 16 bytes" end
  local value = M.strip_scheme(raw)
  if value == "" then return "" end
  local h, err = hmac.new(key, "sha256")
  if not h then return nil, err end
  local digest, ferr = h:final(value)
  if not digest then return nil, ferr end
  return "tfp1:" .. sub(b64url(digest), 1, 22)
end

-- ------------------------------------------------------------------ claims
local function str(v)
  return type(v) == "string" and v or ""
end

local function b64url_decode(s)
  local t = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
  local r = #t % 4
  if r == 1 then return nil end
  if r > 0 then t = t .. string.rep("=", 4 - r) end
  return ngx.decode_base64(t)
end

-- claims of an unverified JWS payload (sub, sid, jti, exp, client_id); nil when not a JWT
function M.claims(credential)
  local h, p = credential:match("^([%w_-]+)%.([%w_-]+)%.[%w_-]*$")
  if not h then return nil end
  local raw = b64url_decode(p)
  if raw == nil then return nil end
  local obj = cjson.decode(raw)
  if type(obj) ~= "table" or raw:match("^%s*%[") then return nil end
  local exp = ""
  if type(obj.exp) == "number" and obj.exp >= 0 and obj.exp < 1e15 then exp = string.format("%.0f", floor(obj.exp)) end
  local client_id = str(obj.client_id)
  if client_id == "" then client_id = str(obj.azp) end
  return { sub = str(obj.sub), sid = str(obj.sid), jti = str(obj.jti), exp = exp, client_id = client_id }
end

-- ------------------------------------------------------------------ per request
local KEY = os.getenv("TOKENWATCH_FP_KEY")

-- what a request presents ("" = absent): { tw_fp, tw_cred_type, tw_sub, tw_sid, tw_jti, tw_exp, tw_client_id }
function M.inspect(key, authorization, api_key)
  local r = { tw_fp = "", tw_cred_type = "", tw_sub = "", tw_sid = "", tw_jti = "", tw_exp = "", tw_client_id = "" }
  local picked
  local auth = authorization and M.trim(authorization) or ""
  if has_scheme(auth) and M.strip_scheme(auth) ~= "" then
    picked, r.tw_cred_type = auth, "access_token"
  elseif api_key and M.strip_scheme(api_key) ~= "" then
    picked, r.tw_cred_type = api_key, "api_key"
  end
  if not picked then return r end
  local fp, err = M.tfp1(key, picked)
  if fp then
    r.tw_fp = fp
  else
    kong.log.err("tokenwatch: no fingerprint: ", err)
  end
  local c = M.claims(M.strip_scheme(picked))
  if c then
    r.tw_sub, r.tw_sid, r.tw_jti, r.tw_exp, r.tw_client_id = c.sub, c.sid, c.jti, c.exp, c.client_id
  end
  return r
end

local function first(v)
  if type(v) == "table" then return v[1] end
  return v
end

-- one field of this request's result, computed once per request (custom_fields_by_lua)
function M.field(name)
  local ctx = ngx.ctx
  local r = ctx.tokenwatch
  if r == nil then
    local ok, res = pcall(M.inspect, KEY, first(kong.request.get_header("authorization")), first(kong.request.get_header("x-api-key")))
    if not ok then
      kong.log.err("tokenwatch: could not inspect the credential")
      res = {}
    end
    r = res
    ctx.tokenwatch = r
  end
  return r[name] or ""
end

return M

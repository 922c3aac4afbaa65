/*
 * tokenwatch for NGINX njs: tfp1 credential fingerprints and unverified JWT claims as NGINX
 * variables, for the access log (and the denylist check). The raw credential is never returned,
 * stored or logged.
 *
 *   tfp1 = "tfp1:" + first 22 chars of base64url(HMAC-SHA-256(key, credential)), where credential
 *   is the header value (UTF-8) without a leading case-insensitive "Bearer" scheme, trimmed of
 *   JavaScript white space. Same as schemas/fingerprint.ts; checked against gateway/vectors.json.
 *
 * Written for njs 0.7.x (Debian bookworm's libnginx-mod-http-js 0.7.9) and later: no
 * destructuring, classes or optional chaining; crypto.createHmac + digest('base64url') and
 * Buffer.from(.., 'base64url') exist since njs 0.4.x. Header values are byte strings in njs 0.7,
 * so they are decoded as UTF-8 with Buffer.from(v).toString() before trimming.
 *
 *   load_module modules/ngx_http_js_module.so;   # Debian: already loaded by modules-enabled
 *   env TOKENWATCH_FP_KEY;                        # main context: workers drop the environment
 *   http {
 *     js_import tw from /etc/nginx/njs/tokenwatch.js;
 *     js_set $tw_fp         tw.fp;
 *     js_set $tw_cred_type  tw.cred_type;
 *     js_set $tw_sub        tw.sub;         # and tw.sid, tw.jti, tw.exp, tw.client_id, tw.iat
 *   }
 *
 * Key: process.env.TOKENWATCH_FP_KEY, else a file preloaded at configuration time with
 *   js_preload_object tokenwatch_key from /etc/nginx/tokenwatch-key.json;   # {"key": "..."}
 * A missing or short (< 16 bytes) key leaves $tw_fp empty and says so in the error log.
 *
 * Which credential: Authorization with the Bearer scheme (cred_type access_token), else
 * X-API-Key (api_key). Other Authorization schemes (Basic, ...) are not fingerprinted.
 *
 * Token endpoint (refresh-token rotation, DESIGN §2 refresh.*): in its location,
 *   set $tw_token_endpoint 1;                      # a refresh grant in the body is the credential
 *   js_body_filter tw.token_response buffer_type=buffer;   # fingerprints the tokens it issues
 *   proxy_set_header Accept-Encoding "";           # the filter reads the JSON uncompressed
 *   client_body_buffer_size 16k; client_body_in_single_buffer on;   # body kept in memory
 * and $tw_fp / $tw_cred_type (refresh_token) / $tw_issued_fp / $tw_issued_access_fp are logged.
 * Do not reference $tw_fp there before the body is read (NGINX caches a js_set value).
 */

var crypto = require('crypto');
var querystring = require('querystring');

/* JavaScript's white space (String.prototype.trim, RegExp \s). njs hands regular expressions to
 * PCRE, where \s is ASCII only and \v means any vertical space (U+0085 too): spelled out here. */
var WS = '[\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]';
var TRIM = new RegExp('^' + WS + '+|' + WS + '+$', 'g');
var SCHEME = new RegExp('^bearer(?:' + WS + '+|$)', 'i');
var JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

var PREFIX = 'tfp1:';
var MIN_KEY_BYTES = 16;
/* a token response larger than this is passed through without fingerprinting */
var MAX_TOKEN_RESPONSE_BYTES = 65536;

/* per request: njs runs each request in its own VM clone, so this never outlives one request */
var memo = null;

function trimJs(s) {
    return s.replace(TRIM, '');
}

/** schemas/fingerprint.ts stripScheme(): trim, drop a leading "Bearer" and its white space, trim. */
function stripScheme(s) {
    return trimJs(trimJs(s).replace(SCHEME, ''));
}

/** The key as a string, or null (reported once per request). */
function fpKey(r) {
    var k = '';
    if (typeof process !== 'undefined' && process.env && process.env.TOKENWATCH_FP_KEY) {
        k = process.env.TOKENWATCH_FP_KEY;
    } else if (typeof tokenwatch_key !== 'undefined' && tokenwatch_key && typeof tokenwatch_key.key === 'string') {
        k = tokenwatch_key.key;
    }
    if (Buffer.from(k).length < MIN_KEY_BYTES) {
        r.error('tokenwatch: TOKENWATCH_FP_KEY is ' + (k ? 'shorter than 16 bytes' : 'not set (env TOKENWATCH_FP_KEY; or js_preload_object tokenwatch_key)') + ': $tw_fp stays empty');
        return null;
    }
    return k;
}

/**
 * tfp1 of a raw credential (a header value as njs gives it, or any string), or '' when the key is
 * unusable or nothing is left after the scheme.
 */
function tfp1(key, raw) {
    var value = stripScheme(raw);
    if (value === '' || key === null) return '';
    return PREFIX + crypto.createHmac('sha256', key).update(value).digest('base64url').slice(0, 22);
}

/** Header bytes (njs 0.7 byte string) as a UTF-8 string; '' when absent. */
function header(r, name) {
    var v = r.headersIn[name];
    if (v === undefined || v === null) return '';
    return Buffer.from(v).toString();
}

function str(v) {
    return typeof v === 'string' ? v : '';
}

/** Claims of an unverified JWS payload; null when the credential is not one. */
function claims(credential) {
    var m = JWS.exec(credential);
    if (!m) return null;
    var p;
    try {
        p = JSON.parse(Buffer.from(m[2], 'base64url').toString());
    } catch (e) {
        return null;
    }
    if (p === null || typeof p !== 'object' || Array.isArray(p)) return null;
    var exp = typeof p.exp === 'number' && p.exp >= 0 && p.exp < 1e15 ? String(Math.floor(p.exp)) : '';
    var iat = typeof p.iat === 'number' && p.iat >= 0 && p.iat < 1e15 ? String(Math.floor(p.iat)) : '';
    return { sub: str(p.sub), sid: str(p.sid), jti: str(p.jti), exp: exp, iat: iat, client_id: str(p.client_id) || str(p.azp) };
}

var NONE = { fp: '', cred_type: '', claims: null };

/** The refresh token of an RFC 6749 refresh grant in the request body, or ''. */
function refreshGrant(r) {
    if (r.variables.tw_token_endpoint !== '1') return '';
    var body = r.requestText;
    if (typeof body !== 'string' || body === '') return '';
    var form = querystring.parse(Buffer.from(body).toString());
    var grant = form.grant_type;
    var token = form.refresh_token;
    return grant === 'refresh_token' && typeof token === 'string' ? token : '';
}

/** What this request presents, computed once per request. */
function inspect(r) {
    var auth = header(r, 'Authorization');
    var apiKey = header(r, 'X-API-Key');
    if (memo !== null && memo.auth === auth && memo.apiKey === apiKey) return memo.result;
    var result = NONE;
    try {
        var picked = null;
        var type = '';
        var refresh = refreshGrant(r);
        if (refresh !== '' && stripScheme(refresh) !== '') {
            picked = refresh;
            type = 'refresh_token';
        } else if (SCHEME.test(trimJs(auth)) && stripScheme(auth) !== '') {
            picked = auth;
            type = 'access_token';
        } else if (stripScheme(apiKey) !== '') {
            picked = apiKey;
            type = 'api_key';
        }
        if (picked !== null) {
            var fp = tfp1(fpKey(r), picked);
            result = { fp: fp, cred_type: type, claims: claims(stripScheme(picked)) };
        }
    } catch (e) {
        /* the message may quote input: log only the type */
        r.error('tokenwatch: could not inspect the credential (' + (e && e.name) + ')');
        result = NONE;
    }
    memo = { auth: auth, apiKey: apiKey, result: result };
    return result;
}

/* body filter state, per request (one VM clone per request) */
var tokenChunks = [];
var tokenBytes = 0;

/**
 * js_body_filter for a token endpoint: fingerprints the refresh and access tokens a 2xx JSON
 * response issues into $tw_issued_fp / $tw_issued_access_fp. The body passes unchanged.
 */
function token_response(r, data, flags) {
    r.sendBuffer(data, flags);
    if (tokenBytes <= MAX_TOKEN_RESPONSE_BYTES) {
        tokenChunks.push(Buffer.from(data));
        tokenBytes += data.length;
    }
    if (!flags.last || r.status < 200 || r.status > 299 || tokenBytes > MAX_TOKEN_RESPONSE_BYTES) return;
    try {
        var j = JSON.parse(Buffer.concat(tokenChunks).toString());
        var key = null;
        if (j && typeof j.refresh_token === 'string') {
            key = fpKey(r);
            r.variables.tw_issued_fp = tfp1(key, j.refresh_token);
        }
        if (j && typeof j.access_token === 'string') {
            key = key === null ? fpKey(r) : key;
            r.variables.tw_issued_access_fp = tfp1(key, j.access_token);
        }
    } catch (e) {
        r.error('tokenwatch: token response not fingerprinted (' + (e && e.name) + ')');
    }
    tokenChunks = [];
}

function claim(r, name) {
    var c = inspect(r).claims;
    return c === null ? '' : c[name];
}

function fp(r) { return inspect(r).fp; }
function cred_type(r) { return inspect(r).cred_type; }
function sub(r) { return claim(r, 'sub'); }
function sid(r) { return claim(r, 'sid'); }
function jti(r) { return claim(r, 'jti'); }
function exp(r) { return claim(r, 'exp'); }
function iat(r) { return claim(r, 'iat'); }
function client_id(r) { return claim(r, 'client_id'); }

export default {
    fp: fp, cred_type: cred_type, sub: sub, sid: sid, jti: jti, exp: exp, iat: iat, client_id: client_id,
    token_response: token_response, tfp1: tfp1, stripScheme: stripScheme, claims: claims
};

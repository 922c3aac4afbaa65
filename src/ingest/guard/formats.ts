/**
 * The table of known credential formats the secret guard recognises by shape (DESIGN §2).
 *
 * Our own table, checked against the public rule sets that track these formats (gitleaks'
 * `config/gitleaks.toml`, Nosey Parker's builtin rules, GitHub secret scanning's partner list)
 * for prefixes and lengths. Lengths are deliberately a little lenient (a truncated or re-issued
 * format must still be caught), prefixes are exact. A match is a secret without further checks,
 * except for `random` entries, whose body must also look random.
 *
 * How a format is found: every entry's `prefix` ends with one literal character (its *anchor*).
 * The scanner looks only for anchor characters, checks the prefix behind them with a lookbehind
 * (one regex pass over the text, see `scan.ts`), and confirms the body with a sticky regex.
 * Adding a format is one entry here plus nothing else; `test/unit/guard-formats.test.ts` runs
 * every entry's `example` through decode (redacted where it may be, blocking where it identifies).
 *
 * Ids are stable and never reused: they appear in DLQ details (`route: secret_known_key
 * (github-classic)`), never with the secret.
 */
import type { SecretReason } from './reasons.js';

/** Random-string generator handed to the examples: `n` characters over `alphabet` (default alnum). */
export type Gen = (n: number, alphabet?: string) => string;

export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';
export const ALNUM = UPPER + LOWER + DIGITS;
export const B64URL = ALNUM + '-_';
export const B64 = ALNUM + '+/';
export const HEX = '0123456789abcdef';

export interface KeyFormat {
  /** stable id, never reused (kebab-case, vendor first) */
  id: string;
  /** what it is */
  title: string;
  reason: SecretReason;
  /** regex source of the prefix; must end with one literal character (the anchor) */
  prefix: string;
  /** regex source of what follows the prefix (anchored right after it) */
  body: string;
  /** the prefix may be glued to a preceding letter or digit (default: it must start a word) */
  glued?: boolean;
  /** the body must also look random (mixed case and digits), for generic-looking prefixes */
  random?: boolean;
  /** builds a synthetic example at run time (never a real credential) */
  example: (g: Gen) => string;
  /** where the prefix/length was checked */
  ref: string;
}

const END_ALNUM = '(?![A-Za-z0-9])';
const END_B64URL = '(?![A-Za-z0-9_-])';

/**
 * The table. Kept sorted by vendor. `ref`: gl = gitleaks rule id, np = Nosey Parker rule,
 * gh = GitHub secret scanning partner pattern, vendor = the vendor's documentation.
 */
export const KEY_FORMATS: readonly KeyFormat[] = [
  { id: 'adobe-client-secret', title: 'Adobe client secret', reason: 'secret_known_key', prefix: 'p8e-', body: `[A-Za-z0-9]{32}${END_ALNUM}`, example: (g) => `p8e-${g(32)}`, ref: 'gl adobe-client-secret' },
  { id: 'age-secret-key', title: 'age encryption secret key', reason: 'secret_known_key', prefix: 'AGE-SECRET-KEY-1', body: '[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}', example: (g) => `AGE-SECRET-KEY-1${g(58, 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L')}`, ref: 'gl age-secret-key' },
  { id: 'alibaba-access-key-id', title: 'Alibaba Cloud AccessKey id', reason: 'secret_known_key', prefix: 'LTAI', body: `[A-Za-z0-9]{20}${END_ALNUM}`, example: (g) => `LTAI${g(20)}`, ref: 'gl alibaba-access-key-id' },
  { id: 'anthropic-api-key', title: 'Anthropic API / admin key', reason: 'secret_known_key', prefix: 'sk-ant-(?:api|admin|oat|sid)\\d\\d-', body: '[A-Za-z0-9_-]{20,}', example: (g) => `sk-ant-api03-${g(93, B64URL)}AA`, ref: 'gl anthropic-api-key' },
  { id: 'atlassian-api-token', title: 'Atlassian API token', reason: 'secret_known_key', prefix: 'AT[AC]TT3', body: '[A-Za-z0-9_=-]{60,}', example: (g) => `ATATT3${g(180, B64URL)}=${g(8, '0123456789ABCDEF')}`, ref: 'gl atlassian-api-token, np atlassian' },
  { id: 'aws-access-key-id', title: 'AWS access key id (long-term / STS)', reason: 'secret_known_key', prefix: 'A(?:[KS]I|BI|CC)A', body: `[A-Z0-9]{16}${END_ALNUM}`, example: (g) => `AKIA${g(16, UPPER + '234567')}`, ref: 'gl aws-access-token' },
  { id: 'azure-ad-client-secret', title: 'Microsoft Entra ID client secret', reason: 'secret_known_key', prefix: '[A-Za-z0-9_~.]{3}\\dQ~', body: '[A-Za-z0-9_~.-]{31,34}', glued: true, example: (g) => `${g(3)}8Q~${g(34, ALNUM + '_~.-')}`, ref: 'gl azure-ad-client-secret' },
  { id: 'bitbucket-api-token', title: 'Bitbucket / Atlassian app password', reason: 'secret_known_key', prefix: 'ATBB', body: '[A-Za-z0-9_=.-]{32,}', example: (g) => `ATBB${g(32)}${g(8, '0123456789ABCDEF')}`, ref: 'vendor (app passwords)' },
  { id: 'cloudflare-origin-ca-key', title: 'Cloudflare Origin CA key', reason: 'secret_known_key', prefix: 'v1\\.0-', body: '[a-f0-9]{24}-[a-f0-9]{146}', example: (g) => `v1.0-${g(24, HEX)}-${g(146, HEX)}`, ref: 'gl cloudflare-origin-ca-key' },
  { id: 'databricks-api-token', title: 'Databricks API token', reason: 'secret_known_key', prefix: 'dapi', body: `[a-f0-9]{32}(?:-\\d)?${END_ALNUM}`, example: (g) => `dapi${g(32, HEX)}`, ref: 'gl databricks-api-token' },
  { id: 'deno-token', title: 'Deno Deploy token', reason: 'secret_known_key', prefix: 'dd[pw]_', body: `[A-Za-z0-9]{36}${END_ALNUM}`, example: (g) => `ddp_${g(36)}`, ref: 'gh Deno' },
  { id: 'digitalocean-token', title: 'DigitalOcean PAT / OAuth / refresh token', reason: 'secret_known_key', prefix: 'do[opr]_v1_', body: '[a-f0-9]{64}', example: (g) => `dop_v1_${g(64, HEX)}`, ref: 'gl digitalocean-pat' },
  { id: 'discord-webhook-url', title: 'Discord webhook URL', reason: 'secret_known_key', prefix: 'discord(?:app)?\\.com/api/webhooks/', body: '\\d{5,30}/[A-Za-z0-9_-]{30,}', glued: true, example: (g) => `https://discord.com/api/webhooks/${g(18, DIGITS)}/${g(68, B64URL)}`, ref: 'np discord' },
  { id: 'docker-hub-token', title: 'Docker Hub personal / organisation access token', reason: 'secret_known_key', prefix: 'dckr_(?:pat|oat)_', body: '[A-Za-z0-9_-]{20,}', example: (g) => `dckr_pat_${g(27, B64URL)}`, ref: 'np dockerhub' },
  { id: 'doppler-token', title: 'Doppler token', reason: 'secret_known_key', prefix: 'dp\\.(?:pt|st|ct|sa|scim|audit)\\.', body: '[A-Za-z0-9]{40,}', example: (g) => `dp.pt.${g(43)}`, ref: 'gl doppler-api-token' },
  { id: 'dynatrace-token', title: 'Dynatrace API token', reason: 'secret_known_key', prefix: 'dt0c01\\.', body: '[A-Za-z0-9]{24}\\.[A-Za-z0-9]{64}', example: (g) => `dt0c01.${g(24, UPPER + DIGITS)}.${g(64)}`, ref: 'gl dynatrace-api-token' },
  { id: 'figma-pat', title: 'Figma personal access token', reason: 'secret_known_key', prefix: 'figd_', body: '[A-Za-z0-9_-]{38,}', example: (g) => `figd_${g(40, B64URL)}`, ref: 'gh Figma, vendor' },
  { id: 'flyio-token', title: 'Fly.io access token', reason: 'secret_known_key', prefix: 'fo1_', body: '[A-Za-z0-9_-]{43}', example: (g) => `fo1_${g(43, B64URL)}`, ref: 'gl flyio-access-token' },
  { id: 'github-classic', title: 'GitHub token (PAT, OAuth, user-to-server, server-to-server, refresh)', reason: 'secret_known_key', prefix: 'gh[pousr]_', body: '[A-Za-z0-9]{30,255}', example: (g) => `ghp_${g(36)}`, ref: 'gl github-pat, github-oauth, github-app-token, github-refresh-token' },
  { id: 'github-fine-grained-pat', title: 'GitHub fine-grained PAT', reason: 'secret_known_key', prefix: 'github_pat_', body: '[A-Za-z0-9_]{22,255}', example: (g) => `github_pat_${g(22)}_${g(59)}`, ref: 'gl github-fine-grained-pat' },
  { id: 'gitlab-token', title: 'GitLab token (PAT, runner, deploy, feed, SCIM, trigger, CI job, agent, OAuth app, mail, feature flag)', reason: 'secret_known_key', prefix: 'gl(?:pat|rt|dt|ft|soat|ptt|cbt|imt|agent|oas|ffct)-', body: '[A-Za-z0-9_.-]{20,300}', example: (g) => `glrt-${g(20, B64URL)}`, ref: 'gl gitlab-*' },
  { id: 'gitlab-runner-registration', title: 'GitLab runner registration token', reason: 'secret_known_key', prefix: 'GR1348941', body: '[A-Za-z0-9_-]{20,}', example: (g) => `GR1348941${g(20, B64URL)}`, ref: 'gl gitlab-rrt' },
  { id: 'google-api-key', title: 'Google API key', reason: 'secret_known_key', prefix: 'AIza', body: `[A-Za-z0-9_-]{35}${END_B64URL}`, example: (g) => `AIza${g(35, B64URL)}`, ref: 'gl gcp-api-key' },
  { id: 'google-oauth-access-token', title: 'Google OAuth 2.0 access token', reason: 'secret_known_key', prefix: 'ya29\\.', body: '[A-Za-z0-9_-]{20,}', example: (g) => `ya29.${g(150, B64URL)}`, ref: 'np google' },
  { id: 'google-oauth-client-secret', title: 'Google OAuth 2.0 client secret', reason: 'secret_known_key', prefix: 'GOCSPX-', body: '[A-Za-z0-9_-]{28}', example: (g) => `GOCSPX-${g(28, B64URL)}`, ref: 'np google' },
  { id: 'google-oauth-refresh-token', title: 'Google OAuth 2.0 refresh token', reason: 'secret_known_key', prefix: '1//', body: '[A-Za-z0-9_-]{30,}', example: (g) => `1//0${g(100, B64URL)}`, ref: 'vendor (Google Identity)' },
  { id: 'grafana-api-key', title: 'Grafana API key (legacy)', reason: 'secret_known_key', prefix: 'eyJrIjoi', body: '[A-Za-z0-9]{40,}={0,3}', example: (g) => `eyJrIjoi${g(70)}`, ref: 'gl grafana-api-key' },
  { id: 'grafana-cloud-token', title: 'Grafana Cloud access policy token', reason: 'secret_known_key', prefix: 'glc_', body: '[A-Za-z0-9+/]{32,}={0,3}', example: (g) => `glc_${g(120, B64)}`, ref: 'gl grafana-cloud-api-token' },
  { id: 'grafana-service-account-token', title: 'Grafana service account token', reason: 'secret_known_key', prefix: 'glsa_', body: '[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}', example: (g) => `glsa_${g(32)}_${g(8, HEX)}`, ref: 'gl grafana-service-account-token' },
  { id: 'groq-api-key', title: 'Groq API key', reason: 'secret_known_key', prefix: 'gsk_', body: `[A-Za-z0-9]{48,}${END_ALNUM}`, example: (g) => `gsk_${g(52)}`, ref: 'np groq' },
  { id: 'hashicorp-terraform-token', title: 'HCP Terraform / Terraform Enterprise API token', reason: 'secret_known_key', prefix: '[A-Za-z0-9]{14}\\.atlasv1\\.', body: '[A-Za-z0-9_=-]{60,70}', glued: true, example: (g) => `${g(14)}.atlasv1.${g(67, B64URL)}`, ref: 'gl hashicorp-tf-api-token' },
  { id: 'hashicorp-vault-token', title: 'HashiCorp Vault service / batch / recovery token', reason: 'secret_known_key', prefix: 'hv[sbr]\\.', body: '[A-Za-z0-9_-]{24,}', example: (g) => `hvs.${g(95, B64URL)}`, ref: 'gl vault-service-token, np hashicorp' },
  { id: 'heroku-api-key', title: 'Heroku API key (v2)', reason: 'secret_known_key', prefix: 'HRKU-', body: 'AA[A-Za-z0-9_-]{58}', example: (g) => `HRKU-AA${g(58, B64URL)}`, ref: 'gl heroku-api-key-v2' },
  { id: 'huggingface-token', title: 'Hugging Face user / org token', reason: 'secret_known_key', prefix: '(?:hf|api_org)_', body: `[A-Za-z]{34}${END_ALNUM}`, example: (g) => `hf_${g(34, UPPER + LOWER)}`, ref: 'gl huggingface-access-token' },
  { id: 'infracost-api-token', title: 'Infracost API token', reason: 'secret_known_key', prefix: 'ico-', body: `[A-Za-z0-9]{32}${END_ALNUM}`, example: (g) => `ico-${g(32)}`, ref: 'gl infracost-api-token' },
  { id: 'linear-api-key', title: 'Linear API key / OAuth token', reason: 'secret_known_key', prefix: 'lin_(?:api|oauth)_', body: '[A-Za-z0-9]{40}', example: (g) => `lin_api_${g(40)}`, ref: 'gl linear-api-key' },
  { id: 'mailgun-api-key', title: 'Mailgun private API key', reason: 'secret_known_key', prefix: 'key-', body: `[a-f0-9]{32}${END_ALNUM}`, example: (g) => `key-${g(32, HEX)}`, ref: 'gl mailgun-private-api-token' },
  { id: 'newrelic-key', title: 'New Relic user / admin / insert / browser key', reason: 'secret_known_key', prefix: 'NR(?:AK|AA|II|JS)-', body: '[A-Za-z0-9_-]{19,}', example: (g) => `NRAK-${g(27, UPPER + DIGITS)}`, ref: 'gl new-relic-*, np newrelic' },
  { id: 'notion-token', title: 'Notion integration token', reason: 'secret_known_key', prefix: 'ntn_', body: `[A-Za-z0-9]{40,}${END_ALNUM}`, example: (g) => `ntn_${g(11, DIGITS)}${g(35)}`, ref: 'gl notion-api-token' },
  { id: 'notion-token-legacy', title: 'Notion integration token (legacy secret_)', reason: 'secret_known_key', prefix: 'secret_', body: `[A-Za-z0-9]{43}${END_ALNUM}`, random: true, example: (g) => `secret_${g(40)}aZ9`, ref: 'vendor (Notion)' },
  { id: 'npm-token', title: 'npm access token', reason: 'secret_known_key', prefix: 'npm_', body: `[A-Za-z0-9]{36}${END_ALNUM}`, example: (g) => `npm_${g(36)}`, ref: 'gl npm-access-token' },
  { id: 'okta-api-token', title: 'Okta API token (SSWS scheme)', reason: 'secret_known_key', prefix: 'SSWS ', body: ' *[A-Za-z0-9_-]{20,}', glued: true, example: (g) => `SSWS 00${g(40, B64URL)}`, ref: 'np okta' },
  { id: 'openai-api-key', title: 'OpenAI project / service-account / admin key', reason: 'secret_known_key', prefix: 'sk-(?:proj|svcacct|admin)-', body: '[A-Za-z0-9_-]{20,}', example: (g) => `sk-proj-${g(64, B64URL)}`, ref: 'gl openai-api-key' },
  { id: 'openai-api-key-legacy', title: 'OpenAI key (legacy sk-)', reason: 'secret_known_key', prefix: 'sk-', body: `[A-Za-z0-9]{32,}${END_B64URL}`, random: true, example: (g) => `sk-${g(45)}aZ9`, ref: 'gl openai-api-key' },
  { id: 'openshift-user-token', title: 'OpenShift user token', reason: 'secret_known_key', prefix: 'sha256~', body: '[A-Za-z0-9_-]{43}', example: (g) => `sha256~${g(43, B64URL)}`, ref: 'gl openshift-user-token' },
  { id: 'perplexity-api-key', title: 'Perplexity API key', reason: 'secret_known_key', prefix: 'pplx-', body: `[A-Za-z0-9]{48}${END_ALNUM}`, example: (g) => `pplx-${g(48)}`, ref: 'gl perplexity-api-key' },
  { id: 'planetscale-token', title: 'PlanetScale token / OAuth token / password', reason: 'secret_known_key', prefix: 'pscale_(?:tkn|oauth|pw)_', body: '[A-Za-z0-9_=.-]{32,64}', example: (g) => `pscale_tkn_${g(43, B64URL)}`, ref: 'gl planetscale-*' },
  { id: 'postman-api-key', title: 'Postman API key', reason: 'secret_known_key', prefix: 'PMAK-', body: '[A-Za-z0-9]{24}-[A-Za-z0-9]{34}', example: (g) => `PMAK-${g(24, HEX)}-${g(34, HEX)}`, ref: 'gl postman-api-token, np postman' },
  { id: 'prefect-api-key', title: 'Prefect API key', reason: 'secret_known_key', prefix: 'pnu_', body: `[A-Za-z0-9]{36}${END_ALNUM}`, example: (g) => `pnu_${g(36)}`, ref: 'gl prefect-api-token' },
  { id: 'pulumi-token', title: 'Pulumi access token', reason: 'secret_known_key', prefix: 'pul-', body: `[a-f0-9]{40}${END_ALNUM}`, example: (g) => `pul-${g(40, HEX)}`, ref: 'gl pulumi-api-token' },
  { id: 'pypi-token', title: 'PyPI upload token', reason: 'secret_known_key', prefix: 'pypi-', body: 'AgE[A-Za-z0-9_-]{50,}', example: (g) => `pypi-AgEIcHlwaS5vcmc${g(70, B64URL)}`, ref: 'gl pypi-upload-token' },
  { id: 'readme-api-key', title: 'ReadMe API key', reason: 'secret_known_key', prefix: 'rdme_', body: '[a-z0-9]{70}', example: (g) => `rdme_${g(70, LOWER + DIGITS)}`, ref: 'gl readme-api-token' },
  { id: 'rubygems-api-key', title: 'RubyGems API key', reason: 'secret_known_key', prefix: 'rubygems_', body: '[a-f0-9]{48}', example: (g) => `rubygems_${g(48, HEX)}`, ref: 'gl rubygems-api-token' },
  { id: 'sendgrid-api-key', title: 'SendGrid API key', reason: 'secret_known_key', prefix: 'SG\\.', body: '[A-Za-z0-9_-]{16,32}\\.[A-Za-z0-9_-]{16,64}', example: (g) => `SG.${g(22, B64URL)}.${g(43, B64URL)}`, ref: 'gl sendgrid-api-token, np sendgrid' },
  { id: 'sentry-token', title: 'Sentry org / user auth token', reason: 'secret_known_key', prefix: 'sntry[su]_', body: '[A-Za-z0-9+/=_-]{40,}', example: (g) => `sntryu_${g(64, HEX)}`, ref: 'gl sentry-user-token, sentry-org-token' },
  { id: 'shopify-token', title: 'Shopify access token / app secret', reason: 'secret_known_key', prefix: 'shp(?:at|ca|pa|ss)_', body: '[a-fA-F0-9]{32}', example: (g) => `shpat_${g(32, HEX)}`, ref: 'gl shopify-*' },
  { id: 'slack-app-token', title: 'Slack app-level token', reason: 'secret_known_key', prefix: 'xapp-', body: '\\d-[A-Za-z0-9-]{10,}', example: (g) => `xapp-1-${g(11, UPPER + DIGITS)}-${g(13, DIGITS)}-${g(64, HEX)}`, ref: 'gl slack-app-token' },
  { id: 'slack-cookie', title: 'Slack session cookie (d=xoxd-…)', reason: 'secret_known_key', prefix: 'xoxd-', body: '[A-Za-z0-9%/+=_-]{20,}', example: (g) => `xoxd-${g(80, B64)}%3D`, ref: 'vendor (Slack web client)' },
  { id: 'slack-token', title: 'Slack bot / user / workspace / client / config token', reason: 'secret_known_key', prefix: 'xox[abposrce]-', body: '[A-Za-z0-9-]{10,}', example: (g) => `xoxc-${g(12, DIGITS)}-${g(12, DIGITS)}-${g(12, DIGITS)}-${g(64, HEX)}`, ref: 'gl slack-*-token' },
  { id: 'slack-webhook-url', title: 'Slack incoming webhook URL', reason: 'secret_known_key', prefix: 'hooks\\.slack\\.com/(?:services|workflows|triggers)/', body: '[A-Za-z0-9+/_-]{20,}', glued: true, example: (g) => `https://hooks.slack.com/services/T${g(8, UPPER + DIGITS)}/B${g(10, UPPER + DIGITS)}/${g(24)}`, ref: 'gl slack-webhook-url' },
  { id: 'sourcegraph-token', title: 'Sourcegraph access token', reason: 'secret_known_key', prefix: 'sgp_', body: '(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}', example: (g) => `sgp_${g(16, HEX)}_${g(40, HEX)}`, ref: 'gl sourcegraph-access-token' },
  { id: 'square-access-token', title: 'Square access token', reason: 'secret_known_key', prefix: 'EAAA', body: `[A-Za-z0-9_-]{60}${END_B64URL}`, example: (g) => `EAAA${g(60, B64URL)}`, ref: 'gl square-access-token' },
  { id: 'square-oauth', title: 'Square OAuth access token / secret', reason: 'secret_known_key', prefix: 'sq0(?:atp|csp)-', body: '[A-Za-z0-9_-]{22,}', example: (g) => `sq0csp-${g(43, B64URL)}`, ref: 'np square' },
  { id: 'stripe-secret-key', title: 'Stripe secret / restricted key', reason: 'secret_known_key', prefix: '[rs]k_(?:live|test|prod)_', body: '[A-Za-z0-9]{16,255}', example: (g) => `sk_live_${g(24)}`, ref: 'gl stripe-access-token (pk_ is publishable, not a secret)' },
  { id: 'stripe-webhook-secret', title: 'Stripe webhook signing secret', reason: 'secret_known_key', prefix: 'whsec_', body: '[A-Za-z0-9+/=]{24,}', example: (g) => `whsec_${g(32)}`, ref: 'vendor (Stripe)' },
  { id: 'supabase-key', title: 'Supabase personal / secret key', reason: 'secret_known_key', prefix: 'sb(?:p|_secret)_', body: '[A-Za-z0-9_-]{20,}', example: (g) => `sbp_${g(40, HEX)}`, ref: 'gh Supabase' },
  { id: 'telegram-bot-token', title: 'Telegram bot token', reason: 'secret_known_key', prefix: '\\d{8,10}:AA', body: '[A-Za-z0-9_-]{33}', glued: true, example: (g) => `${g(10, DIGITS)}:AA${g(33, B64URL)}`, ref: 'gl telegram-bot-api-token' },
  { id: 'twilio-api-key', title: 'Twilio API key SID', reason: 'secret_known_key', prefix: 'SK', body: `[0-9a-fA-F]{32}${END_ALNUM}`, example: (g) => `SK${g(32, HEX)}`, ref: 'gl twilio-api-key' },
  { id: 'xai-api-key', title: 'xAI API key', reason: 'secret_known_key', prefix: 'xai-', body: `[A-Za-z0-9]{70,}${END_ALNUM}`, example: (g) => `xai-${g(80)}`, ref: 'np (xAI)' },
];

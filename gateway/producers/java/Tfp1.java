import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * tokenwatch's tfp1 credential fingerprint, for producers that write canonical access events
 * (DESIGN §2) from Java (11+, JDK only):
 *
 * <pre>"tfp1:" + first 22 chars of base64url(HMAC-SHA-256(key, credential))</pre>
 *
 * where credential is the raw value (UTF-8) without a leading case-insensitive "Bearer" scheme,
 * trimmed of JavaScript white space (the set String.prototype.trim removes, which is neither
 * String.strip() nor trim(): U+00A0 and U+2007 are white space, U+0085 and U+001C are not). Same
 * as tokenwatch's schemas/fingerprint.ts; checked against gateway/vectors.json.
 *
 * <pre>
 *   java Tfp1.java --vectors ../../vectors.json    check every vector (exit 1 on a mismatch)
 *   echo "$TOKEN" | TOKENWATCH_FP_KEY=... java Tfp1.java    print the fingerprint of each line
 * </pre>
 *
 * Copy the class (without {@code main} and {@code Json}) into your code base.
 */
public final class Tfp1 {
  public static final String PREFIX = "tfp1:";
  public static final int MIN_KEY_BYTES = 16;

  /** The key is too short ({@code short_key}) or the credential is empty ({@code empty_credential}). */
  public static final class Tfp1Exception extends IllegalArgumentException {
    public final String code;

    Tfp1Exception(String code, String message) {
      super(message);
      this.code = code;
    }
  }

  private Tfp1() {}

  /** JavaScript white space: WhiteSpace and LineTerminator code points. */
  static boolean isJsSpace(int c) {
    switch (c) {
      case '\t': case '\n': case 0x0b: case '\f': case '\r': case ' ':
      case 0x00a0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000: case 0xfeff:
        return true;
      default:
        return c >= 0x2000 && c <= 0x200a;
    }
  }

  static String trimJs(String s) {
    int i = 0;
    int j = s.length();
    while (i < j && isJsSpace(s.charAt(i))) i++;
    while (j > i && isJsSpace(s.charAt(j - 1))) j--;
    return s.substring(i, j);
  }

  /** Removes surrounding white space and a leading case-insensitive "Bearer" scheme. */
  public static String stripScheme(String credential) {
    String s = trimJs(credential);
    if (s.regionMatches(true, 0, "bearer", 0, 6)
        && s.chars().limit(6).allMatch(c -> c < 0x80)
        && (s.length() == 6 || isJsSpace(s.charAt(6)))) {
      s = s.substring(6);
    }
    return trimJs(s);
  }

  /** The tfp1 fingerprint of a raw credential (e.g. "Bearer eyJ…"); key of at least 16 bytes. */
  public static String fingerprint(String credential, byte[] key) {
    if (key.length < MIN_KEY_BYTES) {
      throw new Tfp1Exception("short_key", "TOKENWATCH_FP_KEY must be at least 16 bytes");
    }
    String value = stripScheme(credential);
    if (value.isEmpty()) throw new Tfp1Exception("empty_credential", "credential is empty");
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      byte[] digest = mac.doFinal(value.getBytes(StandardCharsets.UTF_8));
      return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(digest).substring(0, 22);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** The tfp1 fingerprint with a key given as a string (UTF-8), like TOKENWATCH_FP_KEY. */
  public static String fingerprint(String credential, String key) {
    return fingerprint(credential, key.getBytes(StandardCharsets.UTF_8));
  }

  // ------------------------------------------------------------------ command line and self-test

  public static void main(String[] args) throws IOException {
    if (args.length == 2 && args[0].equals("--vectors")) {
      System.exit(checkVectors(Path.of(args[1])));
    }
    String key = System.getenv().getOrDefault("TOKENWATCH_FP_KEY", "");
    var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) System.out.println(fingerprint(line, key));
  }

  @SuppressWarnings("unchecked")
  static int checkVectors(Path path) throws IOException {
    Map<String, Object> file = (Map<String, Object>) new Json(Files.readString(path, StandardCharsets.UTF_8)).parse();
    List<String> failures = new ArrayList<>();
    List<Object> vectors = (List<Object>) file.get("vectors");
    List<Object> invalid = (List<Object>) file.get("invalid");
    for (Object o : vectors) {
      Map<String, Object> v = (Map<String, Object>) o;
      String got;
      try {
        got = fingerprint((String) v.get("credential"), (String) v.get("key"));
      } catch (Tfp1Exception e) {
        got = "error " + e.code;
      }
      if (!got.equals(v.get("fp"))) failures.add(v.get("name") + ": got " + got + ", want " + v.get("fp"));
    }
    for (Object o : invalid) {
      Map<String, Object> v = (Map<String, Object>) o;
      String got;
      try {
        got = fingerprint((String) v.get("credential"), (String) v.get("key"));
      } catch (Tfp1Exception e) {
        got = e.code;
      }
      if (!got.equals(v.get("error"))) failures.add(v.get("name") + ": got " + got + ", want error " + v.get("error"));
    }
    if (!failures.isEmpty()) {
      System.err.println(failures.size() + " vectors failed:\n  " + String.join("\n  ", failures));
      return 1;
    }
    System.out.println("ok: " + vectors.size() + " vectors, " + invalid.size() + " invalid (Java " + Runtime.version() + ")");
    return 0;
  }

  /** Just enough JSON to read the vectors file (objects, arrays, strings, numbers, literals). */
  static final class Json {
    private final String s;
    private int i;

    Json(String s) {
      this.s = s;
    }

    Object parse() {
      Object v = value();
      ws();
      if (i != s.length()) throw new IllegalArgumentException("trailing data at " + i);
      return v;
    }

    private void ws() {
      while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++;
    }

    private Object value() {
      ws();
      char c = s.charAt(i);
      if (c == '{') {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (s.charAt(i) == '}') {
          i++;
          return m;
        }
        while (true) {
          ws();
          String k = string();
          ws();
          expect(':');
          m.put(k, value());
          ws();
          if (s.charAt(i) == '}') {
            i++;
            return m;
          }
          expect(',');
        }
      }
      if (c == '[') {
        List<Object> a = new ArrayList<>();
        i++;
        ws();
        if (s.charAt(i) == ']') {
          i++;
          return a;
        }
        while (true) {
          a.add(value());
          ws();
          if (s.charAt(i) == ']') {
            i++;
            return a;
          }
          expect(',');
        }
      }
      if (c == '"') return string();
      if (s.startsWith("true", i)) {
        i += 4;
        return Boolean.TRUE;
      }
      if (s.startsWith("false", i)) {
        i += 5;
        return Boolean.FALSE;
      }
      if (s.startsWith("null", i)) {
        i += 4;
        return null;
      }
      int start = i;
      while (i < s.length() && "+-.0123456789eE".indexOf(s.charAt(i)) >= 0) i++;
      return Double.parseDouble(s.substring(start, i));
    }

    private void expect(char c) {
      if (s.charAt(i) != c) throw new IllegalArgumentException("expected '" + c + "' at " + i);
      i++;
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (true) {
        char c = s.charAt(i++);
        if (c == '"') return b.toString();
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = s.charAt(i++);
        switch (e) {
          case '"': case '\\': case '/': b.append(e); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'n': b.append('\n'); break;
          case 'r': b.append('\r'); break;
          case 't': b.append('\t'); break;
          case 'u':
            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            i += 4;
            break;
          default: throw new IllegalArgumentException("bad escape at " + i);
        }
      }
    }
  }
}

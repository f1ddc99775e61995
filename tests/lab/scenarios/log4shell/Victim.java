// The lab's Log4Shell victim: an HTTP server that logs every request line, header and body the
// way a vulnerable Log4j 2.14 would, resolving ${...} lookups innermost first (lower, upper, env,
// sys, date, defaults `:-`), including ${jndi:...}, which it performs with the JDK's own JNDI
// client. Run it with -Dcom.sun.jndi.ldap.object.trustURLCodebase=true so the JVM fetches the
// factory class named by an LDAP reference from its javaCodeBase, as old JDKs did by default.
// Errors are caught so the victim keeps serving.

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import javax.naming.InitialContext;

public class Victim {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/", Victim::handle);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        System.out.println("victim listening on " + port);
    }

    static void handle(HttpExchange ex) throws IOException {
        try {
            byte[] body = ex.getRequestBody().readAllBytes();
            String query = ex.getRequestURI().getQuery();
            log(ex.getRequestMethod() + " " + ex.getRequestURI().getPath()
                + (query == null ? "" : "?" + query));
            for (Map.Entry<String, List<String>> header : ex.getRequestHeaders().entrySet()) {
                for (String value : header.getValue()) {
                    log(header.getKey() + ": " + value);
                }
            }
            if (body.length > 0) {
                log(new String(body, StandardCharsets.UTF_8));
            }
            byte[] reply = "ok\n".getBytes(StandardCharsets.US_ASCII);
            ex.getResponseHeaders().set("Content-Type", "text/plain");
            ex.sendResponseHeaders(200, reply.length);
            ex.getResponseBody().write(reply);
        } catch (Throwable t) {
            System.out.println("request failed: " + t);
        } finally {
            ex.close();
        }
    }

    static void log(String message) {
        System.out.println(substitute(message));
    }

    // StrSubstitutor-like: each ${...} is resolved after its nested lookups; an unknown one stays.
    static String substitute(String s) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < s.length()) {
            int start = s.indexOf("${", i);
            int end = start < 0 ? -1 : closingBrace(s, start);
            if (end < 0) {
                out.append(s, i, s.length());
                break;
            }
            out.append(s, i, start);
            String inner = substitute(s.substring(start + 2, end));
            String value = lookup(inner);
            out.append(value != null ? value : "${" + inner + "}");
            i = end + 1;
        }
        return out.toString();
    }

    static int closingBrace(String s, int start) {
        int depth = 0;
        for (int j = start; j < s.length(); j++) {
            if (s.startsWith("${", j)) {
                depth++;
                j++;
            } else if (s.charAt(j) == '}' && --depth == 0) {
                return j;
            }
        }
        return -1;
    }

    // "prefix:name:-default" as Log4j reads it: the default applies when the lookup gives nothing.
    static String lookup(String expr) {
        String key = expr;
        String fallback = null;
        int dash = expr.indexOf(":-");
        if (dash >= 0) {
            key = expr.substring(0, dash);
            fallback = expr.substring(dash + 2);
        }
        int colon = key.indexOf(':');
        String value = colon < 0 ? null
            : resolve(key.substring(0, colon).trim().toLowerCase(), key.substring(colon + 1));
        return value != null ? value : fallback;
    }

    static String resolve(String prefix, String name) {
        switch (prefix) {
            case "lower": return name.toLowerCase();
            case "upper": return name.toUpperCase();
            case "env": return System.getenv(name);
            case "sys": return System.getProperty(name);
            case "date": return date(name);
            case "jndi": return jndi(name);
            default: return null;
        }
    }

    static String date(String pattern) {
        try {
            return new SimpleDateFormat(pattern).format(new Date());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static String jndi(String name) {
        try {
            Hashtable<String, String> env = new Hashtable<>();
            env.put("com.sun.jndi.ldap.connect.timeout", "5000");
            env.put("com.sun.jndi.ldap.read.timeout", "5000");
            return String.valueOf(new InitialContext(env).lookup(name));
        } catch (Throwable t) {
            System.out.println("jndi lookup of " + name + " failed: " + t);
            return null;
        }
    }
}

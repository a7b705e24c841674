// SPDX-License-Identifier: Apache-2.0
package redisha;

// BEGIN docs/clients.md lettuce
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.io.File;
import java.time.Duration;
import java.util.List;

public final class RedisHa {

    /**
     * A connection that always talks to the current master. sentinels: "host:port" of every
     * Sentinel pod FQDN; user: null or the ACL user ("app"); caFile: null without TLS, else the
     * ca.crt of the release's TLS Secret.
     */
    public static StatefulRedisConnection<String, String> connect(
            List<String> sentinels, String masterSet, String user, String password, String caFile) {
        boolean tls = caFile != null;
        RedisURI.Builder uri = RedisURI.builder()
                .withSentinelMasterId(masterSet)
                // Command timeout; also bounds each Sentinel lookup during a reconnect.
                .withTimeout(Duration.ofSeconds(1));
        for (String s : sentinels) {
            int colon = s.lastIndexOf(':');
            RedisURI.Builder sentinel = RedisURI.builder()
                    .withHost(s.substring(0, colon))
                    .withPort(Integer.parseInt(s.substring(colon + 1)))
                    .withSsl(tls);
            // Sentinel requires the password too (auth.enabled default).
            uri.withSentinel(user == null ? sentinel.withPassword(password.toCharArray()).build()
                    : sentinel.withAuthentication(user, password).build());
        }
        if (user == null) {
            uri.withPassword(password.toCharArray());
        } else {
            uri.withAuthentication(user, password);
        }
        // After withSentinel: withSsl also marks the Sentinel URIs. FULL verification checks the
        // Sentinel FQDN listed and the master FQDN Sentinel reports.
        uri.withSsl(tls).withVerifyPeer(tls);

        ClientResources resources = ClientResources.builder()
                // Reconnect every 100 ms (default: exponential up to 30 s). Every reconnect asks
                // the Sentinels for the master again.
                .reconnectDelay(Delay.constant(Duration.ofMillis(100)))
                .build();
        SocketOptions socket = SocketOptions.builder()
                .connectTimeout(Duration.ofMillis(500)) // default 10 s per dead Sentinel or pod
                // Drop a connection whose peer vanished (node loss) within ~3 s instead of
                // TCP's ~15 min; both need the native epoll transport (netty-transport-native-epoll).
                .tcpUserTimeout(SocketOptions.TcpUserTimeoutOptions.builder()
                        .enable().tcpUserTimeout(Duration.ofSeconds(3)).build())
                .keepAlive(SocketOptions.KeepAliveOptions.builder().enable()
                        .idle(Duration.ofSeconds(5)).interval(Duration.ofSeconds(1)).count(3).build())
                .build();
        ClientOptions.Builder options = ClientOptions.builder().socketOptions(socket);
        if (tls) {
            options.sslOptions(SslOptions.builder().trustManager(new File(caFile)).build());
        }
        RedisClient client = RedisClient.create(resources);
        client.setOptions(options.build());
        return client.connect(uri.build());
    }
}
// END docs/clients.md lettuce

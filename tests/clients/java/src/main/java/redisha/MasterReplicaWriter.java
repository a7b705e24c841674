// SPDX-License-Identifier: Apache-2.0
package redisha;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.ReadFrom;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.masterreplica.MasterReplica;
import io.lettuce.core.masterreplica.StatefulRedisMasterReplicaConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;

/**
 * The Lettuce Master/Replica API with the same timeouts as {@link RedisHa#connect}, for comparison
 * in tests/clients/lab.py: it follows a failover through Sentinel Pub/Sub and a topology refresh
 * that Lettuce schedules 5 s after the first Sentinel event. Plain passwords, no TLS.
 */
public final class MasterReplicaWriter {

    public static void main(String[] args) throws InterruptedException {
        String password = System.getenv("REDIS_PASSWORD");
        RedisURI.Builder uri = RedisURI.builder().withSentinelMasterId(System.getenv("MASTER_SET"))
                .withTimeout(Duration.ofSeconds(1));
        for (String s : System.getenv("SENTINELS").split(",")) {
            int colon = s.lastIndexOf(':');
            uri.withSentinel(RedisURI.builder().withHost(s.substring(0, colon))
                    .withPort(Integer.parseInt(s.substring(colon + 1)))
                    .withPassword(password.toCharArray()).build());
        }
        uri.withPassword(password.toCharArray());
        RedisClient client = RedisClient.create(ClientResources.builder()
                .reconnectDelay(Delay.constant(Duration.ofMillis(100))).build());
        client.setOptions(ClientOptions.builder().socketOptions(
                SocketOptions.builder().connectTimeout(Duration.ofMillis(500)).build()).build());
        StatefulRedisMasterReplicaConnection<String, String> conn =
                MasterReplica.connect(client, StringCodec.UTF8, uri.build());
        conn.setReadFrom(ReadFrom.UPSTREAM);
        long last = System.currentTimeMillis();
        boolean failing = false;
        for (long i = 0; ; i++) {
            try {
                conn.sync().set("lab:java-mr", Long.toString(i));
                long now = System.currentTimeMillis();
                if (now - last > 200) {
                    System.out.println("gap " + last + " " + now);
                }
                last = now;
                failing = false;
            } catch (RedisException e) {
                if (!failing) {
                    System.out.println("err " + System.currentTimeMillis() + " " + e);
                }
                failing = true;
            }
            Thread.sleep(10);
        }
    }
}

{{/* SPDX-License-Identifier: Apache-2.0 */}}

{{/* redis-ha.validateValues: fails once with every problem in the values, each naming the value to set.
Returns nothing when the values are consistent. Call as (include "redis-ha.validateValues" .) */}}
{{- define "redis-ha.validateValues" -}}
{{- $v := .Values -}}
{{- $errors := list -}}
{{- if not (has (toString $v.engine) (list "redis" "valkey")) -}}
{{- $errors = append $errors (printf "engine: must be redis or valkey; got %q" (toString $v.engine)) -}}
{{- end -}}
{{- $n := int $v.replicas -}}
{{- $majority := add (div $n 2) 1 -}}
{{- if and (gt $n 1) (eq (mod $n 2) 0) -}}
{{- $errors = append $errors (printf "replicas: must be odd (1, 3, 5, ...) so Sentinel keeps a majority; got %d" $n) -}}
{{- end -}}
{{- $s := int (include "redis-ha.sentinels" .) -}}
{{- if and (gt $n 1) (not $v.sentinel.colocated) (or (lt (int $v.sentinel.replicas) 3) (eq (mod (int $v.sentinel.replicas) 2) 0)) -}}
{{- $errors = append $errors (printf "sentinel.replicas: must be odd and at least 3 (3, 5, 7, ...) so a majority of Sentinels can elect a leader; got %d" (int $v.sentinel.replicas)) -}}
{{- end -}}
{{- if and (gt $n 1) (ne (toString $v.sentinel.quorum) "") -}}
{{- $q := int $v.sentinel.quorum -}}
{{- $sMajority := add (div $s 2) 1 -}}
{{- if or (lt $q (int $sMajority)) (gt $q $s) -}}
{{- $errors = append $errors (printf "sentinel.quorum: must be between %d (a majority of the %d Sentinels) and %d; got %d. Leave it empty to derive it" (int $sMajority) $s $s $q) -}}
{{- end -}}
{{- end -}}
{{- /* Every port a pod or a Service of the release opens, by the value that sets it: the Services
carry the Redis and the Sentinel ports side by side, so no two may be equal, even across pods. */ -}}
{{- $ha := include "redis-ha.ha" . -}}
{{- $ports := list (list "redis.port" $v.redis.port) -}}
{{- if $ha -}}
{{- $ports = append $ports (list "sentinel.port" $v.sentinel.port) -}}
{{- $ports = append $ports (list "boot.port" $v.boot.port) -}}
{{- end -}}
{{- if and $v.tls.enabled $v.tls.plainPorts.enabled -}}
{{- $ports = append $ports (list "tls.plainPorts.redis" $v.tls.plainPorts.redis) -}}
{{- if $ha -}}
{{- $ports = append $ports (list "tls.plainPorts.sentinel" $v.tls.plainPorts.sentinel) -}}
{{- end -}}
{{- end -}}
{{- if $v.metrics.enabled -}}
{{- $ports = append $ports (list "metrics.port" $v.metrics.port) -}}
{{- if $ha -}}
{{- $ports = append $ports (list "metrics.sentinelPort" $v.metrics.sentinelPort) -}}
{{- end -}}
{{- end -}}
{{- $seen := list -}}
{{- range $ports -}}
{{- $port := int (index . 1) -}}
{{- if not (has $port $seen) -}}
{{- $seen = append $seen $port -}}
{{- $names := list -}}
{{- range $ports -}}
{{- if eq (int (index . 1)) $port -}}
{{- $names = append $names (index . 0) -}}
{{- end -}}
{{- end -}}
{{- if gt (len $names) 1 -}}
{{- $errors = append $errors (printf "%s and %s: %s %d; every port the pods and Services open needs a number of its own" (join ", " (initial $names)) (last $names) (ternary "both are" "all are" (eq (len $names) 2)) $port) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.roleServices.enabled (not $v.serviceAccount.create) (not $v.serviceAccount.name) -}}
{{- $errors = append $errors "roleServices.enabled: needs a ServiceAccount of the release to bind the role-label Role to: set serviceAccount.create=true or serviceAccount.name (binding the namespace's default ServiceAccount would let every pod using it patch the Redis pods)" -}}
{{- end -}}
{{- if and $v.auth.enabled $v.auth.password $v.auth.existingSecret -}}
{{- $errors = append $errors "auth.password: set either auth.password or auth.existingSecret, not both" -}}
{{- end -}}
{{- if and $v.auth.acceptedPasswords $v.auth.existingSecret -}}
{{- $errors = append $errors (printf "auth.acceptedPasswords: with auth.existingSecret the chart writes no Secret; put the accepted passwords in %s under the key %s (auth.existingSecretAcceptedPasswordsKey), one per line" $v.auth.existingSecret $v.auth.existingSecretAcceptedPasswordsKey) -}}
{{- end -}}
{{- range $key := list "password" "existingSecret" -}}
{{- if and (index $v.auth $key) (not $v.auth.enabled) -}}
{{- $errors = append $errors (printf "auth.%s: needs auth.enabled=true; with auth off Redis and Sentinel ask for no password and this one would be ignored" $key) -}}
{{- end -}}
{{- end -}}
{{- if and $v.auth.acceptedPasswords (not $v.auth.enabled) -}}
{{- $errors = append $errors "auth.acceptedPasswords: needs auth.enabled=true" -}}
{{- end -}}
{{- if $v.acl.enabled -}}
{{- if not $v.auth.enabled -}}
{{- $errors = append $errors "acl.enabled: needs auth.enabled=true; the default user keeps the auth password and the scripts administer with it" -}}
{{- end -}}
{{- if not $v.acl.existingSecret -}}
{{- $keys := list -}}
{{- range $role, $user := include "redis-ha.aclUsers" . | fromYaml -}}
{{- $keys = append $keys $user.passwordKey -}}
{{- end -}}
{{- $errors = append $errors (printf "acl.existingSecret: acl.enabled needs the name of a Secret holding the ACL users' passwords under the keys %s" (join ", " $keys)) -}}
{{- end -}}
{{- $names := list -}}
{{- range $role, $user := include "redis-ha.aclUsers" . | fromYaml -}}
{{- if has $user.name $names -}}
{{- $errors = append $errors (printf "acl.users.%s.name: %q is already the name of another ACL user; each user needs its own name" $role $user.name) -}}
{{- end -}}
{{- $names = append $names $user.name -}}
{{- end -}}
{{- end -}}
{{- if and $v.pdb.enabled (gt $n 1) (ne (toString $v.pdb.minAvailable) "") (not (kindIs "string" $v.pdb.minAvailable)) -}}
{{- if ge (int $v.pdb.minAvailable) $n -}}
{{- $errors = append $errors (printf "pdb.minAvailable: must be lower than replicas (%d), or no node could ever be drained; got %d" $n (int $v.pdb.minAvailable)) -}}
{{- end -}}
{{- end -}}
{{- if and $v.persistence.enabled (not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$" (toString $v.persistence.size))) -}}
{{- $errors = append $errors (printf "persistence.size: must be a Kubernetes quantity such as 10Gi; got %q" (toString $v.persistence.size)) -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
{{- $errors = append $errors "metrics.serviceMonitor.enabled: the cluster has no monitoring.coreos.com/v1 ServiceMonitor API; install the Prometheus Operator CRDs or turn it off" -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.enabled) -}}
{{- $errors = append $errors "metrics.serviceMonitor.enabled: needs metrics.enabled=true, the ServiceMonitor scrapes the exporter" -}}
{{- end -}}
{{- if and $v.metrics.podMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PodMonitor")) -}}
{{- $errors = append $errors "metrics.podMonitor.enabled: the cluster has no monitoring.coreos.com/v1 PodMonitor API; install the Prometheus Operator CRDs or turn it off" -}}
{{- end -}}
{{- range $key := list "podMonitor" "grafanaDashboard" -}}
{{- if and (index $v.metrics $key).enabled (not $v.metrics.enabled) -}}
{{- $errors = append $errors (printf "metrics.%s.enabled: needs metrics.enabled=true, it reads the exporters' metrics" $key) -}}
{{- end -}}
{{- end -}}
{{- if and $v.metrics.podMonitor.enabled $v.metrics.serviceMonitor.enabled -}}
{{- $errors = append $errors "metrics.podMonitor.enabled: enable either metrics.podMonitor or metrics.serviceMonitor, not both; both scrape every exporter twice and the alerts would count two masters" -}}
{{- end -}}
{{- $tls := $v.tls -}}
{{- $cm := $tls.certManager -}}
{{- if and $tls.enabled (not $tls.existingSecret) (not $cm.enabled) -}}
{{- $errors = append $errors "tls.enabled: needs a certificate source; set tls.existingSecret or tls.certManager.enabled" -}}
{{- end -}}
{{- if and $tls.existingSecret $cm.enabled -}}
{{- $errors = append $errors "tls.existingSecret: set either tls.existingSecret or tls.certManager.enabled, not both" -}}
{{- end -}}
{{- if and $cm.enabled (not $tls.enabled) -}}
{{- $errors = append $errors "tls.certManager.enabled: needs tls.enabled=true, the certificate is only used with TLS on" -}}
{{- end -}}
{{- if and $tls.enabled $cm.enabled (not (.Capabilities.APIVersions.Has "cert-manager.io/v1/Certificate")) -}}
{{- $errors = append $errors "tls.certManager.enabled: the cluster has no cert-manager.io/v1 Certificate API; install cert-manager or use tls.existingSecret" -}}
{{- end -}}
{{- if and $tls.enabled $cm.enabled (not $cm.issuerRef.name) -}}
{{- $errors = append $errors "tls.certManager.issuerRef.name: name the Issuer or ClusterIssuer that signs the certificate" -}}
{{- end -}}
{{- if and $tls.plainPorts.enabled (not $tls.enabled) -}}
{{- $errors = append $errors "tls.plainPorts.enabled: needs tls.enabled=true; with TLS off every port is plain already" -}}
{{- end -}}
{{- if and $v.backup.restore.file (not $v.persistence.enabled) -}}
{{- $errors = append $errors "backup.restore.file: needs persistence.enabled=true; the restore puts the backup on pod 0's claim" -}}
{{- end -}}
{{- if and $v.backup.enabled $v.acl.enabled (not $v.auth.enabled) -}}
{{- $errors = append $errors "backup.enabled: with acl.enabled the backup user needs auth.enabled=true" -}}
{{- end -}}
{{- $mig := $v.migration -}}
{{- if and $mig.enabled (not $mig.source.host) -}}
{{- $errors = append $errors "migration.source.host: migration.enabled needs the host name or address of the running master to follow" -}}
{{- end -}}
{{- if and $mig.source.host (not $mig.source.existingSecret) -}}
{{- $errors = append $errors (printf "migration.source.existingSecret: name the Secret holding the source's password under the key %s (migration.source.passwordKey); the chart never takes it as a value" $mig.source.passwordKey) -}}
{{- end -}}
{{- if and $mig.source.tls.enabled (not $tls.enabled) -}}
{{- $errors = append $errors "migration.source.tls.enabled: needs tls.enabled=true; Redis replicates over TLS with the pods' own certificate" -}}
{{- end -}}
{{- if and $mig.source.host (regexMatch (printf "^%s(-[0-9]+\\.%s|-headless)?(\\.%s(\\.svc(\\..*)?)?)?$" (include "redis-ha.fullname" .) (include "redis-ha.headless" .) .Release.Namespace) $mig.source.host) -}}
{{- $errors = append $errors (printf "migration.source.host: %s is a pod or Service of this release; name the master of the Redis you migrate from" $mig.source.host) -}}
{{- end -}}
{{- if and $mig.enabled $v.backup.restore.file -}}
{{- $errors = append $errors "backup.restore.file: a release that follows an external master (migration.enabled) takes its data from that master; restore a backup after the cutover, or install without migration" -}}
{{- end -}}
{{- /* Sentinel and the chart's scripts send these; renamed or disabled, failovers and boots break. */ -}}
{{- $needed := list "CONFIG" "REPLICAOF" "SLAVEOF" "INFO" "ROLE" "CLIENT" "PING" "PUBLISH" "SUBSCRIBE" "SCRIPT" "MULTI" "EXEC" -}}
{{- range $c := $v.redis.config.disableCommands -}}
{{- if has (upper (toString $c)) $needed -}}
{{- $errors = append $errors (printf "redis.config.disableCommands: %s is needed by Sentinel or the chart's scripts (%s); remove it" (upper (toString $c)) (join ", " $needed)) -}}
{{- end -}}
{{- end -}}
{{- range $c, $to := $v.redis.config.renameCommands -}}
{{- if has (upper (toString $c)) $needed -}}
{{- $errors = append $errors (printf "redis.config.renameCommands: %s is needed by Sentinel or the chart's scripts (%s); remove it" (upper (toString $c)) (join ", " $needed)) -}}
{{- end -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nredis-ha: invalid values:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}

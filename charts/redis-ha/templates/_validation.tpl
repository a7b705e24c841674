{{/* SPDX-License-Identifier: Apache-2.0 */}}

{{/* redis-ha.validateValues: fails once with every problem in the values, each naming the value to set.
Returns nothing when the values are consistent. Call as (include "redis-ha.validateValues" .) */}}
{{- define "redis-ha.validateValues" -}}
{{- $v := .Values -}}
{{- $errors := list -}}
{{- $n := int $v.replicas -}}
{{- $majority := add (div $n 2) 1 -}}
{{- if and (gt $n 1) (eq (mod $n 2) 0) -}}
{{- $errors = append $errors (printf "replicas: must be odd (1, 3, 5, ...) so Sentinel keeps a majority; got %d" $n) -}}
{{- end -}}
{{- if and (gt $n 1) (ne (toString $v.sentinel.quorum) "") -}}
{{- $q := int $v.sentinel.quorum -}}
{{- if or (lt $q (int $majority)) (gt $q $n) -}}
{{- $errors = append $errors (printf "sentinel.quorum: must be between %d (a majority of replicas) and %d (replicas); got %d. Leave it empty to derive it" (int $majority) $n $q) -}}
{{- end -}}
{{- end -}}
{{- if and $v.auth.enabled $v.auth.password $v.auth.existingSecret -}}
{{- $errors = append $errors "auth.password: set either auth.password or auth.existingSecret, not both" -}}
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
{{- if and $v.metrics.enabled (gt $n 1) (has (int $v.metrics.sentinelPort) (list (int $v.metrics.port) (int $v.redis.port) (int $v.sentinel.port))) -}}
{{- $errors = append $errors (printf "metrics.sentinelPort: must differ from metrics.port, redis.port and sentinel.port, the exporters share the pod's network; got %d" (int $v.metrics.sentinelPort)) -}}
{{- end -}}
{{- if $v.tls.enabled -}}
{{- $errors = append $errors "tls.enabled: TLS is not available in this chart version yet; set it to false" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nredis-ha: invalid values:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}

{{/* SPDX-License-Identifier: Apache-2.0 */}}

{{/* redis-ha.scanAnnotations: returns the metadata annotations that tell security scanners why an object
deliberately fails one of their checks, so a user's own scan of a render reports only what is not
justified: checkov reads `checkov.io/skipN: CHECK=reason`, kube-linter
`ignore-check.kube-linter.io/<check>: reason`, kube-score `kube-score/ignore: check,...` (its reasons
beside it as `redis-ha/kube-score-reason.<check>`). Each exception is emitted only while the values
that cause it are in place: set the limit, the digest or the pull policy and the annotation goes,
and the check passes on its own. docs/security.md lists them. Returns nothing when no exception
applies. Call as (include "redis-ha.scanAnnotations" (dict "root" . "object" "server")) with object
server (the Redis StatefulSet), sentinel (the Sentinel StatefulSet), test (the helm test pod),
backup (the backup CronJob and the restore Job), cutover (the migration's cutover Job), rollout (the
ordered rollout's Job) or roleService (the -master and -replicas Services). */}}
{{- define "redis-ha.scanAnnotations" -}}
{{- if not (and (hasKey . "root") (hasKey . "object")) -}}
{{- fail "redis-ha.scanAnnotations: call as (include \"redis-ha.scanAnnotations\" (dict \"root\" . \"object\" \"server\"))" -}}
{{- end -}}
{{- $v := .root.Values -}}
{{- $object := .object -}}
{{- $cpu := "Redis and Sentinel get no CPU limit: CFS throttling delays the master's replies and Sentinel's pings and votes, which ends in TILT mode and false failovers. The exporters have one; redis.resources.limits.cpu and sentinel.resources.limits.cpu set one." -}}
{{- $memory := "Redis gets no memory limit: only you know the dataset size, and a limit the chart guessed would OOM-kill a master. Set redis.resources.limits.memory well above redis.config.maxmemory; Sentinel and the exporters have limits." -}}
{{- $pull := "imagePullPolicy IfNotPresent lets pods restart during a registry outage and in air-gapped clusters; image.digest, metrics.image.digest and roleServices.image.digest pin the images instead." -}}
{{- $digest := "The chart cannot know the digest of the image your registry serves: set image.digest, metrics.image.digest and roleServices.image.digest." -}}
{{- $ephemeral := "No ephemeral-storage requests or limits: the root filesystems are read-only and the containers write only to emptyDirs with a sizeLimit; a per-container limit would count the container's logs too and could evict a master for logging." -}}
{{- $liveness := "The helm test pod runs one script to completion in seconds; a liveness probe would have nothing to watch." -}}
{{- $readiness := "The helm test pod serves nothing, so nothing waits for it to be ready." -}}
{{- $jobEphemeral := dict "backup" "No ephemeral-storage requests or limits: the backup container's root filesystem is read-only and it writes only to the backup volume, which is sized by backup.persistence.size; backup.resources sets them." "cutover" "No ephemeral-storage requests or limits: the cutover container's root filesystem is read-only and it writes nothing but its log; migration.cutover.resources sets them." "rollout" "No ephemeral-storage requests or limits: the rollout container's root filesystem is read-only and it writes nothing but its log; roleServices.resources sets them." -}}
{{- $jobResources := dict "backup" $v.backup.resources "cutover" $v.migration.cutover.resources "rollout" $v.roleServices.resources -}}
{{- /* [scanner check reason] triples for this object with these values. */ -}}
{{- $skips := list -}}
{{- $images := ternary list (list $v.image) (eq $object "roleService") -}}
{{- if eq $object "rollout" -}}
{{- $images = list $v.roleServices.image -}}
{{- end -}}
{{- if and $v.metrics.enabled (not (has $object (list "test" "backup" "cutover" "rollout" "roleService"))) -}}
{{- $images = append $images $v.metrics.image -}}
{{- end -}}
{{- if and $v.roleServices.enabled (eq $object "server") -}}
{{- $images = append $images $v.roleServices.image -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_9" "The role-label container has no readiness probe on purpose: it serves nothing, and a probe it failed on a busy node would take the Redis pod out of its Services; the redis container's readiness decides. A seldom liveness probe restarts a hung loop.") -}}
{{- end -}}
{{- $notAlways := false -}}
{{- $noDigest := false -}}
{{- range $images -}}
{{- if ne .pullPolicy "Always" -}}{{- $notAlways = true -}}{{- end -}}
{{- if not .digest -}}{{- $noDigest = true -}}{{- end -}}
{{- end -}}
{{- if eq $object "roleService" -}}
{{- $skips = append $skips (list "kube-score" "service-targets-pod" "The Service selects Redis pods by the role label redis-ha.io/role, which each pod's role-label container sets at run time (docs/design.md, \"Role Services\"); no pod template carries it.") -}}
{{- else if eq $object "test" -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_8" $liveness) -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_9" $readiness) -}}
{{- $skips = append $skips (list "kube-score" "pod-probes" $readiness) -}}
{{- else if hasKey $jobResources $object -}}
{{- $res := index $jobResources $object -}}
{{- $limits := $res.limits | default dict -}}
{{- $requests := $res.requests | default dict -}}
{{- if not (and (hasKey $limits "ephemeral-storage") (hasKey $requests "ephemeral-storage")) -}}
{{- $skips = append $skips (list "kube-score" "container-ephemeral-storage-request-and-limit" (index $jobEphemeral $object)) -}}
{{- end -}}
{{- else -}}
{{- /* The long-running containers whose resources come from redis.resources or sentinel.resources. */ -}}
{{- $resources := list -}}
{{- if eq $object "server" -}}
{{- $resources = append $resources $v.redis.resources -}}
{{- if $v.roleServices.enabled -}}
{{- $resources = append $resources $v.roleServices.resources -}}
{{- end -}}
{{- if include "redis-ha.colocated" .root -}}
{{- $resources = append $resources $v.sentinel.resources -}}
{{- end -}}
{{- else -}}
{{- $resources = append $resources $v.sentinel.resources -}}
{{- end -}}
{{- $noCpu := false -}}
{{- $noMemory := false -}}
{{- $noEphemeral := false -}}
{{- range concat $resources (ternary (list $v.metrics.resources) list $v.metrics.enabled) -}}
{{- $limits := .limits | default dict -}}
{{- $requests := .requests | default dict -}}
{{- if not (and (hasKey $limits "ephemeral-storage") (hasKey $requests "ephemeral-storage")) -}}{{- $noEphemeral = true -}}{{- end -}}
{{- end -}}
{{- range $resources -}}
{{- $limits := .limits | default dict -}}
{{- if not (hasKey $limits "cpu") -}}{{- $noCpu = true -}}{{- end -}}
{{- if not (hasKey $limits "memory") -}}{{- $noMemory = true -}}{{- end -}}
{{- end -}}
{{- if $noCpu -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_11" $cpu) -}}
{{- $skips = append $skips (list "kube-linter" "unset-cpu-requirements" $cpu) -}}
{{- end -}}
{{- if $noMemory -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_13" $memory) -}}
{{- $skips = append $skips (list "kube-linter" "unset-memory-requirements" $memory) -}}
{{- end -}}
{{- if or $noCpu $noMemory -}}
{{- $skips = append $skips (list "kube-score" "container-resources" (ternary (printf "%s %s" $cpu $memory) $cpu $noMemory)) -}}
{{- end -}}
{{- if $noEphemeral -}}
{{- $skips = append $skips (list "kube-score" "container-ephemeral-storage-request-and-limit" $ephemeral) -}}
{{- end -}}
{{- end -}}
{{- if $notAlways -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_15" $pull) -}}
{{- $skips = append $skips (list "kube-score" "container-image-pull-policy" $pull) -}}
{{- end -}}
{{- if $noDigest -}}
{{- $skips = append $skips (list "checkov" "CKV_K8S_43" $digest) -}}
{{- end -}}
{{- $n := 0 -}}
{{- $kubeScore := list -}}
{{- range $skips -}}
{{- $scanner := index . 0 -}}
{{- $check := index . 1 -}}
{{- $reason := index . 2 -}}
{{- if eq $scanner "checkov" -}}
{{- $n = add1 $n }}
checkov.io/skip{{ $n }}: {{ printf "%s=%s" $check $reason | quote }}
{{- else if eq $scanner "kube-linter" }}
ignore-check.kube-linter.io/{{ $check }}: {{ $reason | quote }}
{{- else }}
{{- $kubeScore = append $kubeScore $check }}
redis-ha/kube-score-reason.{{ $check }}: {{ $reason | quote }}
{{- end -}}
{{- end -}}
{{- with $kubeScore }}
kube-score/ignore: {{ join "," . | quote }}
{{- end -}}
{{- end -}}

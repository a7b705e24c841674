{{/* SPDX-License-Identifier: Apache-2.0 */}}

{{/* redis-ha.name: returns the chart name, call as (include "redis-ha.name" .) */}}
{{- define "redis-ha.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* redis-ha.fullname: returns the object name prefix, call as (include "redis-ha.fullname" .).
Kept to 52 characters so "<fullname>-headless" and StatefulSet pod names stay valid DNS labels. */}}
{{- define "redis-ha.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.headless: returns the headless Service name, call as (include "redis-ha.headless" .) */}}
{{- define "redis-ha.headless" -}}
{{- printf "%s-headless" (include "redis-ha.fullname" .) -}}
{{- end -}}

{{/* redis-ha.chart: returns "name-version" for the helm.sh/chart label, call as (include "redis-ha.chart" .) */}}
{{- define "redis-ha.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* redis-ha.selectorLabels: returns the labels selectors use; they never change between versions.
Call as (include "redis-ha.selectorLabels" (dict "root" . "component" "server")). */}}
{{- define "redis-ha.selectorLabels" -}}
{{- if not (and (hasKey . "root") (hasKey . "component")) -}}
{{- fail "redis-ha.selectorLabels: call as (include \"redis-ha.selectorLabels\" (dict \"root\" . \"component\" \"server\"))" -}}
{{- end -}}
app.kubernetes.io/name: {{ include "redis-ha.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* redis-ha.releaseSelectorLabels: returns the labels every pod of the release carries, Redis and
Sentinel alike (the Services and the NetworkPolicy select both), call as (include "redis-ha.releaseSelectorLabels" .) */}}
{{- define "redis-ha.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "redis-ha.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* redis-ha.labels: returns the metadata labels of an object.
Call as (include "redis-ha.labels" (dict "root" . "component" "server")). */}}
{{- define "redis-ha.labels" -}}
{{ include "redis-ha.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "redis-ha.chart" .root }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* redis-ha.image: returns "registry/repository:tag" or "registry/repository@digest".
Call as (include "redis-ha.image" .Values.image) with an object holding registry, repository, tag, digest. */}}
{{- define "redis-ha.image" -}}
{{- if not (and (kindIs "map" .) (hasKey . "repository")) -}}
{{- fail "redis-ha.image: call as (include \"redis-ha.image\" .Values.image) with registry, repository, tag and digest" -}}
{{- end -}}
{{- $repo := ternary (printf "%s/%s" .registry .repository) .repository (ne (toString .registry) "") -}}
{{- if .digest -}}
{{- printf "%s@%s" $repo .digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (toString .tag) -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.engineImages: returns the default image of each engine as YAML (repository and tag),
the ones `image.repository` and `image.tag` fall back to when empty, call as (include "redis-ha.engineImages" .) */}}
{{- define "redis-ha.engineImages" -}}
redis: {repository: library/redis, tag: "7.2.7"}
valkey: {repository: valkey/valkey, tag: "8.1.1"}
{{- end -}}

{{/* redis-ha.serverImage: returns the image of the Redis/Valkey and Sentinel containers: image.* with
an empty repository or tag taken from the engine's default, call as (include "redis-ha.serverImage" .) */}}
{{- define "redis-ha.serverImage" -}}
{{- $defaults := index (include "redis-ha.engineImages" . | fromYaml) (toString .Values.engine) | default dict -}}
{{- $image := deepCopy .Values.image -}}
{{- $_ := set $image "repository" (.Values.image.repository | default $defaults.repository) -}}
{{- $_ := set $image "tag" (toString .Values.image.tag | default $defaults.tag) -}}
{{- include "redis-ha.image" $image -}}
{{- end -}}

{{/* redis-ha.aclUsers: returns, as YAML, the ACL users (role: {name, passwordKey}) the release runs:
acl.users without the backup user unless backup.enabled, call as (include "redis-ha.aclUsers" . | fromYaml) */}}
{{- define "redis-ha.aclUsers" -}}
{{- if .Values.backup.enabled -}}
{{- toYaml .Values.acl.users -}}
{{- else -}}
{{- omit .Values.acl.users "backup" | toYaml -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.secretName: returns the name of the Secret holding the password, call as (include "redis-ha.secretName" .) */}}
{{- define "redis-ha.secretName" -}}
{{- default (include "redis-ha.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/* redis-ha.secretKey: returns the key of the password inside that Secret, call as (include "redis-ha.secretKey" .) */}}
{{- define "redis-ha.secretKey" -}}
{{- ternary .Values.auth.existingSecretPasswordKey "password" (ne .Values.auth.existingSecret "") -}}
{{- end -}}

{{/* redis-ha.acceptedPasswordsKey: returns the key of the passwords accepted during a rotation, call as (include "redis-ha.acceptedPasswordsKey" .) */}}
{{- define "redis-ha.acceptedPasswordsKey" -}}
{{- ternary .Values.auth.existingSecretAcceptedPasswordsKey "accepted-passwords" (ne .Values.auth.existingSecret "") -}}
{{- end -}}

{{/* redis-ha.serviceAccountName: returns the ServiceAccount the pods use, call as (include "redis-ha.serviceAccountName" .) */}}
{{- define "redis-ha.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "redis-ha.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.roleLabel: returns the key of the pod label the `-master` and `-replicas` Services select
(value master or replica), call as (include "redis-ha.roleLabel" .) */}}
{{- define "redis-ha.roleLabel" -}}
redis-ha.io/role
{{- end -}}

{{/* redis-ha.colocated: returns "true" when each Redis pod runs its own Sentinel (sentinel.colocated with
replicas > 1), else "", call as (include "redis-ha.colocated" .) */}}
{{- define "redis-ha.colocated" -}}
{{- if and (include "redis-ha.ha" .) .Values.sentinel.colocated -}}true{{- end -}}
{{- end -}}

{{/* redis-ha.orderedRollout: returns "true" when the chart orders the rollouts of the Redis pods itself
(rollout.ordered with roleServices.enabled: docs/design.md, "Failovers per rollout"), else "", call as
(include "redis-ha.orderedRollout" .) */}}
{{- define "redis-ha.orderedRollout" -}}
{{- if and .Values.rollout.ordered .Values.roleServices.enabled -}}true{{- end -}}
{{- end -}}

{{/* redis-ha.sentinelPods: returns "true" when Sentinel runs in pods of its own (the default with
replicas > 1), else "", call as (include "redis-ha.sentinelPods" .) */}}
{{- define "redis-ha.sentinelPods" -}}
{{- if and (include "redis-ha.ha" .) (not .Values.sentinel.colocated) -}}true{{- end -}}
{{- end -}}

{{/* redis-ha.sentinels: returns the number of Sentinels: sentinel.replicas in pods of their own,
replicas when co-located, 0 with one Redis, call as (include "redis-ha.sentinels" .) */}}
{{- define "redis-ha.sentinels" -}}
{{- if include "redis-ha.sentinelPods" . -}}
{{- .Values.sentinel.replicas | int -}}
{{- else if include "redis-ha.ha" . -}}
{{- .Values.replicas | int -}}
{{- else -}}
0
{{- end -}}
{{- end -}}

{{/* redis-ha.sentinelFullname: returns the name of the Sentinel StatefulSet and the prefix of its pods,
call as (include "redis-ha.sentinelFullname" .) */}}
{{- define "redis-ha.sentinelFullname" -}}
{{- printf "%s-sentinel" (include "redis-ha.fullname" .) -}}
{{- end -}}

{{/* redis-ha.quorum: returns the Sentinel quorum, sentinel.quorum or floor(Sentinels/2)+1, call as (include "redis-ha.quorum" .) */}}
{{- define "redis-ha.quorum" -}}
{{- if ne (toString .Values.sentinel.quorum) "" -}}
{{- .Values.sentinel.quorum | int -}}
{{- else -}}
{{- add (div (int (include "redis-ha.sentinels" .)) 2) 1 -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.pdbMinAvailable: returns pdb.minAvailable or floor(replicas/2)+1, call as (include "redis-ha.pdbMinAvailable" .) */}}
{{- define "redis-ha.pdbMinAvailable" -}}
{{- if ne (toString .Values.pdb.minAvailable) "" -}}
{{- .Values.pdb.minAvailable -}}
{{- else -}}
{{- add (div (int .Values.replicas) 2) 1 -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.ha: returns "true" when Sentinel runs (replicas > 1), else "", call as (include "redis-ha.ha" .) */}}
{{- define "redis-ha.ha" -}}
{{- if gt (int .Values.replicas) 1 -}}true{{- end -}}
{{- end -}}

{{/* redis-ha.nodeHostTemplate: returns the printf pattern of a Redis pod's FQDN with %s for the ordinal,
call as (include "redis-ha.nodeHostTemplate" .) */}}
{{- define "redis-ha.nodeHostTemplate" -}}
{{- printf "%s-%%s.%s.%s.svc.%s" (include "redis-ha.fullname" .) (include "redis-ha.headless" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* redis-ha.sentinelHostTemplate: returns the printf pattern of a Sentinel's FQDN with %s for the
ordinal: a Sentinel pod's, or the Redis pod's when co-located, call as (include "redis-ha.sentinelHostTemplate" .) */}}
{{- define "redis-ha.sentinelHostTemplate" -}}
{{- if include "redis-ha.sentinelPods" . -}}
{{- printf "%s-%%s.%s.%s.svc.%s" (include "redis-ha.sentinelFullname" .) (include "redis-ha.headless" .) .Release.Namespace .Values.clusterDomain -}}
{{- else -}}
{{- include "redis-ha.nodeHostTemplate" . -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.scriptEnv: returns the env list the scripts in files/scripts read, call as (include "redis-ha.scriptEnv" .) */}}
{{- define "redis-ha.scriptEnv" -}}
- name: REPLICAS
  value: {{ .Values.replicas | quote }}
- name: NODE_HOST_TEMPLATE
  value: {{ include "redis-ha.nodeHostTemplate" . | quote }}
- name: SENTINELS
  value: {{ include "redis-ha.sentinels" . | quote }}
- name: SENTINEL_HOST_TEMPLATE
  value: {{ include "redis-ha.sentinelHostTemplate" . | quote }}
- name: REDIS_PORT
  value: {{ .Values.redis.port | quote }}
- name: SENTINEL_PORT
  value: {{ .Values.sentinel.port | quote }}
- name: MASTER_SET
  value: {{ .Values.sentinel.masterSet | quote }}
- name: QUORUM
  value: {{ include "redis-ha.quorum" . | quote }}
{{- /* Sentinels in pods of their own get ids distinct from co-located ones, so a release that moves
from one layout to the other never has two Sentinels with one id. */}}
- name: SENTINEL_ID_PREFIX
  value: {{ printf "%s/%s%s" .Release.Namespace (include "redis-ha.fullname" .) (ternary "/sentinel" "" (not .Values.sentinel.colocated)) | sha1sum | trunc 32 | quote }}
- name: PASSWORD_FILE
  value: {{ ternary "/secrets/password" "" .Values.auth.enabled | quote }}
- name: ACCEPTED_PASSWORDS_FILE
  value: {{ ternary "/secrets/accepted-passwords" "" .Values.auth.enabled | quote }}
- name: ACL_DIR
  value: {{ ternary "/secrets/acl" "" (and .Values.auth.enabled .Values.acl.enabled) | quote }}
- name: BOOT_PORT
  value: {{ .Values.boot.port | quote }}
- name: BOOT_INTERVAL
  value: {{ .Values.boot.intervalSeconds | quote }}
- name: PRESTOP_TIMEOUT
  value: {{ .Values.preStop.timeoutSeconds | quote }}
{{- if .Values.tls.enabled }}
- name: TLS_ENABLED
  value: "true"
- name: TLS_CERT_FILE
  value: /tls/tls.crt
- name: TLS_KEY_FILE
  value: /tls/tls.key
- name: TLS_CA_FILE
  value: /tls/ca.crt
{{- if .Values.tls.plainPorts.enabled }}
- name: PLAIN_REDIS_PORT
  value: {{ .Values.tls.plainPorts.redis | quote }}
- name: PLAIN_SENTINEL_PORT
  value: {{ .Values.tls.plainPorts.sentinel | quote }}
{{- end }}
{{- end }}
{{- with .Values.migration.source.host }}
- name: MIGRATION_DIR
  value: /migration
- name: MIGRATION_PASSWORD_FILE
  value: /migration-secret/password
- name: MIGRATION_CA_FILE
  value: {{ ternary "/migration-tls/ca.crt" "/tls/ca.crt" (and $.Values.migration.source.tls.enabled (ne $.Values.migration.source.tls.existingSecret "")) }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* redis-ha.volumeMounts: returns the mounts shared by the redis and sentinel containers, call as (include "redis-ha.volumeMounts" .) */}}
{{- define "redis-ha.volumeMounts" -}}
- name: config
  mountPath: /config
  readOnly: true
- name: scripts
  mountPath: /scripts
  readOnly: true
{{- if .Values.auth.enabled }}
- name: secret
  mountPath: /secrets
  readOnly: true
{{- end }}
{{- with include "redis-ha.tlsVolumeMount" . }}
{{ . }}
{{- end }}
{{- with include "redis-ha.migrationVolumeMounts" . }}
{{ . }}
{{- end }}
- name: run
  mountPath: /run/redis
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* redis-ha.password: returns the password of the chart-managed Secret: auth.password, else the one
already stored in the cluster (so upgrades keep it), else a new random one. Memoized on the root
context so the Secret and its checksum annotation see the same value. Call as (include "redis-ha.password" .) */}}
{{- define "redis-ha.password" -}}
{{- if not (hasKey . "redisHaPassword") -}}
{{- $password := .Values.auth.password -}}
{{- if not $password -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "redis-ha.fullname" .) -}}
{{- if and $existing (hasKey $existing.data "password") -}}
{{- $password = index $existing.data "password" | b64dec -}}
{{- else -}}
{{- $password = randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- $_ := set . "redisHaPassword" $password -}}
{{- end -}}
{{- .redisHaPassword -}}
{{- end -}}

{{/* redis-ha.tlsSecretName: returns the Secret holding the TLS certificate, key and CA: tls.existingSecret
or the one cert-manager fills, call as (include "redis-ha.tlsSecretName" .) */}}
{{- define "redis-ha.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "redis-ha.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{/* redis-ha.tlsVolumeMount: returns a list item mounting the TLS files at /tls (tls.crt, tls.key,
ca.crt), or nothing when TLS is off, call as (include "redis-ha.tlsVolumeMount" .) */}}
{{- define "redis-ha.tlsVolumeMount" -}}
{{- if .Values.tls.enabled -}}
- name: tls
  mountPath: /tls
  readOnly: true
{{- end -}}
{{- end -}}

{{/* redis-ha.tlsVolume: returns a list item with the TLS Secret volume (owner-read-only files named
as /tls expects), or nothing when TLS is off, call as (include "redis-ha.tlsVolume" .) */}}
{{- define "redis-ha.tlsVolume" -}}
{{- if .Values.tls.enabled -}}
{{- $keys := ternary (list "tls.crt" "tls.key" "ca.crt") (list .Values.tls.certKey .Values.tls.keyKey .Values.tls.caKey) .Values.tls.certManager.enabled -}}
- name: tls
  secret:
    secretName: {{ include "redis-ha.tlsSecretName" . }}
    defaultMode: 0400
    items:
      - key: {{ index $keys 0 }}
        path: tls.crt
      - key: {{ index $keys 1 }}
        path: tls.key
      - key: {{ index $keys 2 }}
        path: ca.crt
{{- end -}}
{{- end -}}

{{/* redis-ha.tlsDnsNames: returns the certificate's DNS SANs as a YAML list: every pod FQDN, the headless
and the client Service (and the `-master` and `-replicas` Services) in short, namespaced, .svc and fully qualified forms, then
tls.certManager.extraDnsNames; the Sentinel pods' FQDNs too when Sentinel runs in pods of its own. Call as (include "redis-ha.tlsDnsNames" .) */}}
{{- define "redis-ha.tlsDnsNames" -}}
{{- $names := list -}}
{{- range $i := until (int .Values.replicas) -}}
{{- $names = append $names (printf (include "redis-ha.nodeHostTemplate" $) (toString $i)) -}}
{{- end -}}
{{- if include "redis-ha.sentinelPods" . -}}
{{- range $i := until (int .Values.sentinel.replicas) -}}
{{- $names = append $names (printf (include "redis-ha.sentinelHostTemplate" $) (toString $i)) -}}
{{- end -}}
{{- end -}}
{{- $services := list (include "redis-ha.headless" .) (include "redis-ha.fullname" .) -}}
{{- if .Values.roleServices.enabled -}}
{{- $services = concat $services (list (printf "%s-master" (include "redis-ha.fullname" .)) (printf "%s-replicas" (include "redis-ha.fullname" .))) -}}
{{- end -}}
{{- range $svc := $services -}}
{{- $names = concat $names (list $svc (printf "%s.%s" $svc $.Release.Namespace) (printf "%s.%s.svc" $svc $.Release.Namespace) (printf "%s.%s.svc.%s" $svc $.Release.Namespace $.Values.clusterDomain)) -}}
{{- end -}}
{{- concat $names .Values.tls.certManager.extraDnsNames | uniq | toYaml -}}
{{- end -}}

{{/* redis-ha.tlsConfig: returns the redis.conf/sentinel.conf TLS lines, or nothing when TLS is off; the
start scripts add tls-port and port. Redis and Sentinel also present tls-cert-file when they connect
to a server, and in sentinel.conf tls-replication makes Sentinel use TLS towards Redis and its peers
(https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/#sentinel).
Call as (include "redis-ha.tlsConfig" .) */}}
{{- define "redis-ha.tlsConfig" -}}
{{- if .Values.tls.enabled -}}
tls-cert-file /tls/tls.crt
tls-key-file /tls/tls.key
tls-ca-cert-file /tls/ca.crt
tls-replication yes
tls-auth-clients {{ ternary "yes" "no" .Values.tls.authClients }}
{{- end -}}
{{- end -}}

{{/* redis-ha.migrationVolumes: returns the volumes of the migration settings (ConfigMap), the source's
password (Secret, 0400) and the source's CA, or nothing without migration.source.host. They stay the
same whether migration.enabled is on or off, so the cutover rolls no pod. Call as (include "redis-ha.migrationVolumes" .) */}}
{{- define "redis-ha.migrationVolumes" -}}
{{- $src := .Values.migration.source -}}
{{- if $src.host -}}
- name: migration
  configMap:
    name: {{ include "redis-ha.fullname" . }}-migration
- name: migration-secret
  secret:
    secretName: {{ $src.existingSecret }}
    defaultMode: 0400
    items:
      - key: {{ $src.passwordKey }}
        path: password
{{- if and $src.tls.enabled $src.tls.existingSecret }}
- name: migration-tls
  secret:
    secretName: {{ $src.tls.existingSecret }}
    defaultMode: 0400
    items:
      - key: {{ $src.tls.caKey }}
        path: ca.crt
{{- end }}
{{- end -}}
{{- end -}}

{{/* redis-ha.migrationVolumeMounts: returns the mounts of redis-ha.migrationVolumes, or nothing, call as
(include "redis-ha.migrationVolumeMounts" .) */}}
{{- define "redis-ha.migrationVolumeMounts" -}}
{{- $src := .Values.migration.source -}}
{{- if $src.host -}}
- name: migration
  mountPath: /migration
  readOnly: true
- name: migration-secret
  mountPath: /migration-secret
  readOnly: true
{{- if and $src.tls.enabled $src.tls.existingSecret }}
- name: migration-tls
  mountPath: /migration-tls
  readOnly: true
{{- end }}
{{- end -}}
{{- end -}}

{{/* redis-ha.cutover: returns "true" when the release is configured for the migration cutover (a source
set and migration.enabled off), so an upgrade runs the cutover hook, else "", call as (include "redis-ha.cutover" .) */}}
{{- define "redis-ha.cutover" -}}
{{- if and .Values.migration.source.host (not .Values.migration.enabled) -}}true{{- end -}}
{{- end -}}

{{/* SPDX-License-Identifier: Apache-2.0 */}}
{{- /* Pieces shared by the pod templates of the Redis StatefulSet and the Sentinel StatefulSet. */ -}}

{{/* redis-ha.podAnnotations: returns the pod template annotations: checksums of config, scripts, Secret and
Certificate (so changes roll the pods) and podAnnotations, call as (include "redis-ha.podAnnotations" .) */}}
{{- define "redis-ha.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/scripts: {{ include (print .Template.BasePath "/configmap-scripts.yaml") . | sha256sum }}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- if and .Values.tls.enabled .Values.tls.certManager.enabled }}
{{- /* A changed Certificate (SANs, issuer) rolls the pods; cert-manager's renewals do not (docs: TLS). */}}
checksum/tls: {{ include (print .Template.BasePath "/certificate.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* redis-ha.podSpecCommon: returns the pod spec fields every chart pod shares: service account, grace
period, pull secrets, security context and scheduling (anti-affinity and spread among the pods of the
same component). Call as (include "redis-ha.podSpecCommon" (dict "root" . "component" "server")). */}}
{{- define "redis-ha.podSpecCommon" -}}
{{- if not (and (hasKey . "root") (hasKey . "component")) -}}
{{- fail "redis-ha.podSpecCommon: call as (include \"redis-ha.podSpecCommon\" (dict \"root\" . \"component\" \"server\"))" -}}
{{- end -}}
{{- $v := .root.Values -}}
{{- $selector := include "redis-ha.selectorLabels" (dict "root" .root "component" .component) | fromYaml -}}
serviceAccountName: {{ include "redis-ha.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.dnsConfig }}
dnsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- if $v.affinity }}
affinity:
  {{- toYaml $v.affinity | nindent 2 }}
{{- else if ne $v.podAntiAffinity "none" }}
affinity:
  podAntiAffinity:
    {{- $term := dict "topologyKey" $v.podAntiAffinityTopologyKey "labelSelector" (dict "matchLabels" $selector) }}
    {{- if eq $v.podAntiAffinity "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      {{- list $term | toYaml | nindent 6 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      {{- list (dict "weight" 100 "podAffinityTerm" $term) | toYaml | nindent 6 }}
    {{- end }}
{{- end }}
{{- with $v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- $constraints := list }}
  {{- range . }}
  {{- $constraints = append $constraints (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" $selector))) }}
  {{- end }}
  {{- toYaml $constraints | nindent 2 }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* redis-ha.sentinelContainer: returns the sentinel container as a list item, call as (include "redis-ha.sentinelContainer" .) */}}
{{- define "redis-ha.sentinelContainer" -}}
- name: sentinel
  image: {{ include "redis-ha.serverImage" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["sh", "/scripts/sentinel-start.sh"]
  env:
    {{- include "redis-ha.scriptEnv" . | nindent 4 }}
  ports:
    - name: sentinel
      containerPort: {{ .Values.sentinel.port }}
    {{- if and .Values.tls.enabled .Values.tls.plainPorts.enabled }}
    - name: sentinel-plain
      containerPort: {{ .Values.tls.plainPorts.sentinel }}
    {{- end }}
  startupProbe:
    exec:
      command: ["sh", "/scripts/probe.sh", "sentinel-readiness"]
    {{- toYaml .Values.sentinel.startupProbe | nindent 4 }}
  livenessProbe:
    exec:
      command: ["sh", "/scripts/probe.sh", "sentinel-liveness"]
    {{- toYaml .Values.sentinel.livenessProbe | nindent 4 }}
  readinessProbe:
    exec:
      command: ["sh", "/scripts/probe.sh", "sentinel-readiness"]
    {{- toYaml .Values.sentinel.readinessProbe | nindent 4 }}
  {{- if .Values.preStop.enabled }}
  lifecycle:
    preStop:
      exec:
        command: ["sh", "/scripts/prestop-sentinel.sh"]
  {{- end }}
  resources:
    {{- toYaml .Values.sentinel.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    {{- include "redis-ha.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* redis-ha.exporterContainer: returns one redis_exporter container as a list item: `metrics` for Redis,
`sentinel-metrics` for Sentinel (redis_exporter recognises a Sentinel and exports redis_sentinel_*).
Container port names are limited to 15 characters, hence `sentinel-metric`. Call as
(include "redis-ha.exporterContainer" (dict "root" . "name" "metrics" "portName" "metrics" "port" 9121 "target" 6379)). */}}
{{- define "redis-ha.exporterContainer" -}}
{{- if not (and (hasKey . "root") (hasKey . "name") (hasKey . "portName") (hasKey . "port") (hasKey . "target")) -}}
{{- fail "redis-ha.exporterContainer: call as (include \"redis-ha.exporterContainer\" (dict \"root\" . \"name\" \"metrics\" \"portName\" \"metrics\" \"port\" 9121 \"target\" 6379))" -}}
{{- end -}}
{{- $ := .root -}}
- name: {{ .name }}
  image: {{ include "redis-ha.image" $.Values.metrics.image }}
  imagePullPolicy: {{ $.Values.metrics.image.pullPolicy }}
  command:
    {{- toYaml $.Values.metrics.command | nindent 4 }}
  env:
    {{- if $.Values.tls.enabled }}
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    - name: REDIS_ADDR
      value: {{ include "redis-ha.exporterAddr" (dict "root" $ "target" .target) }}
    {{- if $.Values.tls.enabled }}
    - name: REDIS_EXPORTER_TLS_CA_CERT_FILE
      value: /tls/ca.crt
    - name: REDIS_EXPORTER_TLS_CLIENT_CERT_FILE
      value: /tls/tls.crt
    - name: REDIS_EXPORTER_TLS_CLIENT_KEY_FILE
      value: /tls/tls.key
    {{- end }}
    - name: REDIS_EXPORTER_WEB_LISTEN_ADDRESS
      value: ":{{ .port }}"
    {{- if $.Values.auth.enabled }}
    {{- /* With ACL users the exporter logs in as its own user, else as the default user. */}}
    {{- $acl := $.Values.acl }}
    {{- if $acl.enabled }}
    - name: REDIS_USER
      value: {{ $acl.users.exporter.name | quote }}
    {{- end }}
    {{- /* The password comes from a file the exporter-auth init container wrote (exporter-auth.sh). */}}
    - name: REDIS_PASSWORD_FILE
      value: /exporter-auth/passwords.json
    {{- end }}
  ports:
    - name: {{ .portName }}
      containerPort: {{ .port }}
  # Alive while it accepts connections; ready once its HTTP handler answers /health.
  livenessProbe:
    tcpSocket:
      port: {{ .portName }}
    periodSeconds: 10
    timeoutSeconds: 5
  readinessProbe:
    httpGet:
      path: /health
      port: {{ .portName }}
    periodSeconds: 10
    timeoutSeconds: 5
  resources:
    {{- toYaml $.Values.metrics.resources | nindent 4 }}
  securityContext:
    {{- toYaml $.Values.containerSecurityContext | nindent 4 }}
  {{- if or $.Values.auth.enabled $.Values.tls.enabled }}
  volumeMounts:
    {{- if $.Values.auth.enabled }}
    - name: exporter-auth
      mountPath: /exporter-auth
      readOnly: true
    {{- end }}
    {{- with include "redis-ha.tlsVolumeMount" $ }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* redis-ha.exporterAddr: returns the address an exporter scrapes, as its REDIS_ADDR and the key of its
password file spell it. With TLS the certificate names the pods, not 127.0.0.1, and the exporter
verifies the name, so it connects to its own pod's FQDN (POD_NAME from the downward API).
Call as (include "redis-ha.exporterAddr" (dict "root" . "target" 6379)). */}}
{{- define "redis-ha.exporterAddr" -}}
{{- if not (and (hasKey . "root") (hasKey . "target")) -}}
{{- fail "redis-ha.exporterAddr: call as (include \"redis-ha.exporterAddr\" (dict \"root\" . \"target\" 6379))" -}}
{{- end -}}
{{- $ := .root -}}
{{- if $.Values.tls.enabled -}}
rediss://$(POD_NAME).{{ include "redis-ha.headless" $ }}.{{ $.Release.Namespace }}.svc.{{ $.Values.clusterDomain }}:{{ .target }}
{{- else -}}
redis://127.0.0.1:{{ .target }}
{{- end -}}
{{- end -}}

{{/* redis-ha.exporterAuthInit: returns the exporter-auth init container as a list item, or nothing when
this pod runs no exporter or auth is off. It writes the exporters' password file (exporter-auth.sh)
to the memory-backed exporter-auth volume. Call as
(include "redis-ha.exporterAuthInit" (dict "root" . "component" "server")) with component server or sentinel. */}}
{{- define "redis-ha.exporterAuthInit" -}}
{{- if not (and (hasKey . "root") (hasKey . "component")) -}}
{{- fail "redis-ha.exporterAuthInit: call as (include \"redis-ha.exporterAuthInit\" (dict \"root\" . \"component\" \"server\"))" -}}
{{- end -}}
{{- $ := .root -}}
{{- if and $.Values.metrics.enabled $.Values.auth.enabled -}}
{{- $targets := list -}}
{{- if eq .component "sentinel" -}}
{{- $targets = list $.Values.sentinel.port -}}
{{- else -}}
{{- $targets = list $.Values.redis.port -}}
{{- if include "redis-ha.colocated" $ -}}
{{- $targets = append $targets $.Values.sentinel.port -}}
{{- end -}}
{{- end -}}
{{- $addrs := list -}}
{{- range $targets -}}
{{- $addrs = append $addrs (include "redis-ha.exporterAddr" (dict "root" $ "target" .)) -}}
{{- end -}}
- name: exporter-auth
  image: {{ include "redis-ha.serverImage" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  command: ["sh", "/scripts/exporter-auth.sh"]
  env:
    {{- include "redis-ha.scriptEnv" $ | nindent 4 }}
    {{- if $.Values.tls.enabled }}
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    - name: EXPORTER_ADDRS
      value: {{ join " " $addrs | quote }}
    - name: EXPORTER_AUTH_FILE
      value: /exporter-auth/passwords.json
  resources:
    {{- toYaml $.Values.metrics.resources | nindent 4 }}
  securityContext:
    {{- toYaml $.Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    {{- include "redis-ha.volumeMounts" $ | nindent 4 }}
    - name: exporter-auth
      mountPath: /exporter-auth
{{- end -}}
{{- end -}}

{{/* redis-ha.sentinelExporter: returns the sentinel-metrics exporter container as a list item, or nothing
when metrics are off, call as (include "redis-ha.sentinelExporter" .) */}}
{{- define "redis-ha.sentinelExporter" -}}
{{- if .Values.metrics.enabled -}}
{{- include "redis-ha.exporterContainer" (dict "root" . "name" "sentinel-metrics" "portName" "sentinel-metric" "port" .Values.metrics.sentinelPort "target" .Values.sentinel.port) -}}
{{- end -}}
{{- end -}}

{{/* redis-ha.podVolumes: returns the volumes every chart pod mounts (config, scripts, Secret, TLS, run, tmp)
as list items, call as (include "redis-ha.podVolumes" .) */}}
{{- define "redis-ha.podVolumes" -}}
- name: config
  configMap:
    name: {{ include "redis-ha.fullname" . }}-config
- name: scripts
  configMap:
    name: {{ include "redis-ha.fullname" . }}-scripts
    defaultMode: 0555
{{- if .Values.auth.enabled }}
# The password, the passwords accepted during a rotation (optional key) and, with ACL
# users, one file per user under acl/.
- name: secret
  projected:
    defaultMode: 0400
    sources:
      - secret:
          name: {{ include "redis-ha.secretName" . }}
          items:
            - key: {{ include "redis-ha.secretKey" . }}
              path: password
      - secret:
          name: {{ include "redis-ha.secretName" . }}
          optional: true
          items:
            - key: {{ include "redis-ha.acceptedPasswordsKey" . }}
              path: accepted-passwords
      {{- if .Values.acl.enabled }}
      - secret:
          name: {{ .Values.acl.existingSecret }}
          items:
            {{- range $role, $user := include "redis-ha.aclUsers" . | fromYaml }}
            - key: {{ $user.passwordKey }}
              path: acl/{{ $role }}
            {{- end }}
      {{- end }}
{{- end }}
{{- with include "redis-ha.tlsVolume" . }}
{{ . }}
{{- end }}
{{- with include "redis-ha.migrationVolumes" . }}
{{ . }}
{{- end }}
# Rendered configs hold the password: memory only, gone with the pod.
- name: run
  emptyDir:
    medium: Memory
    sizeLimit: 8Mi
{{- if and .Values.metrics.enabled .Values.auth.enabled }}
# The exporters' password file (exporter-auth.sh): memory only, gone with the pod.
- name: exporter-auth
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* redis-ha.roleLabelContainer: returns the role-label container as a list item, or nothing when
roleServices are off. It patches its pod's role label from the role the redis container writes to
/run/role/role, and is the only container with an API token (docs/design.md, "Role Services"). Call as
(include "redis-ha.roleLabelContainer" .) */}}
{{- define "redis-ha.roleLabelContainer" -}}
{{- if .Values.roleServices.enabled -}}
- name: role-label
  image: {{ include "redis-ha.image" .Values.roleServices.image }}
  imagePullPolicy: {{ .Values.roleServices.image.pullPolicy }}
  command: ["sh", "/scripts/role-label.sh"]
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: ROLE_FILE
      value: /run/role/role
    - name: ROLE_LABEL
      value: {{ include "redis-ha.roleLabel" . }}
    {{- if include "redis-ha.orderedRollout" . }}
    - name: ROLLOUT_ORDERED
      value: "true"
    - name: STATEFULSET
      value: {{ include "redis-ha.fullname" . }}
    - name: POD_REVISION
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['controller-revision-hash']
    {{- end }}
  {{- /* Liveness only, and seldom: each exec probe costs a process start in the pod, and a
  readiness probe here would take the Redis pod out of its Services whenever a busy node is slow
  to run it. A hung loop is restarted; the redis container's Ready state stays its own. */}}
  livenessProbe:
    exec:
      command: ["sh", "/scripts/role-label.sh", "probe", "60"]
    periodSeconds: 60
    timeoutSeconds: 10
    failureThreshold: 3
  resources:
    {{- toYaml .Values.roleServices.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: scripts
      mountPath: /scripts
      readOnly: true
    - name: role
      mountPath: /run/role
      readOnly: true
    - name: kube-api
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
    - name: role-label-tmp
      mountPath: /tmp
{{- end -}}
{{- end -}}

{{/* redis-ha.roleLabelVolumes: returns the volumes of the role-label container as list items, or nothing
when roleServices are off: the role file the redis container writes (memory, no secrets) and a
projected service account token with the API server's CA, call as (include "redis-ha.roleLabelVolumes" .) */}}
{{- define "redis-ha.roleLabelVolumes" -}}
{{- if .Values.roleServices.enabled -}}
- name: role
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: role-label-tmp
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: kube-api
  projected:
    defaultMode: 0400
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
{{- end -}}
{{- end -}}

{{/* redis-ha.backupClaim: returns the name of the backup volume's claim: backup.persistence.existingClaim
or the chart's <fullname>-backup, call as (include "redis-ha.backupClaim" .) */}}
{{- define "redis-ha.backupClaim" -}}
{{- default (printf "%s-backup" (include "redis-ha.fullname" .)) .Values.backup.persistence.existingClaim -}}
{{- end -}}

{{/* redis-ha.backupPodSpec: returns the pod spec of the backup Job and of the restore Job: one container
running files/scripts/<script> with the server image and the backup volume at /backups. The backup
(`data` empty) connects to Redis: it gets the config, TLS and only the login it needs (the backup
user's password with ACL users, else the password), and runs `upload` (backup.upload) after it.
The restore (`data` names the claim mounted at /data) is a pre-install hook that logs in nowhere
and must not need what the release creates later: no ServiceAccount, Secret, TLS or config, and
the scripts from the hook ConfigMap <fullname>-restore-scripts.
Call as (include "redis-ha.backupPodSpec" (dict "root" . "script" "backup.sh" "env" (list) "upload" dict "data" "")). */}}
{{- define "redis-ha.backupPodSpec" -}}
{{- if not (and (hasKey . "root") (hasKey . "script") (hasKey . "env") (hasKey . "upload") (hasKey . "data")) -}}
{{- fail "redis-ha.backupPodSpec: call as (include \"redis-ha.backupPodSpec\" (dict \"root\" . \"script\" \"backup.sh\" \"env\" (list) \"upload\" dict \"data\" \"\"))" -}}
{{- end -}}
{{- $ := .root -}}
{{- $v := $.Values -}}
{{- $fullname := include "redis-ha.fullname" $ -}}
{{- $restore := ne .data "" -}}
{{- $mounts := list (dict "name" "backups" "mountPath" "/backups") (dict "name" "scripts" "mountPath" "/scripts" "readOnly" true) (dict "name" "tmp" "mountPath" "/tmp") -}}
{{- if $restore -}}
{{- $mounts = append $mounts (dict "name" "data" "mountPath" "/data") -}}
{{- else -}}
{{- $mounts = append $mounts (dict "name" "config" "mountPath" "/config" "readOnly" true) -}}
{{- if $v.auth.enabled -}}
{{- $mounts = append $mounts (dict "name" "secret" "mountPath" "/secrets" "readOnly" true) -}}
{{- end -}}
{{- $mounts = concat $mounts (include "redis-ha.tlsVolumeMount" $ | fromYamlArray) -}}
{{- end -}}
{{- $env := concat (include "redis-ha.scriptEnv" $ | fromYamlArray) .env -}}
{{- $main := dict "name" (trimSuffix ".sh" .script) "image" (include "redis-ha.serverImage" $) "imagePullPolicy" $v.image.pullPolicy "command" (list "sh" (printf "/scripts/%s" .script)) "env" $env "resources" $v.backup.resources "securityContext" $v.containerSecurityContext "volumeMounts" $mounts -}}
{{- $common := include "redis-ha.podSpecCommon" (dict "root" $ "component" "backup") | fromYaml -}}
{{- if $restore -}}
{{- $_ := unset $common "serviceAccountName" -}}
{{- end }}
{{- toYaml $common }}
restartPolicy: Never
{{- if .upload }}
{{- /* The backup runs first; the upload container gets the new file's path in /backups/.latest. */}}
{{- $upload := merge (dict "env" (append (.upload.env | default list) (dict "name" "BACKUP_LATEST" "value" "/backups/.latest")) "volumeMounts" (append (.upload.volumeMounts | default list) (dict "name" "backups" "mountPath" "/backups"))) (deepCopy .upload) (dict "securityContext" $v.containerSecurityContext) }}
initContainers:
  {{- list $main | toYaml | nindent 2 }}
containers:
  {{- list $upload | toYaml | nindent 2 }}
{{- else }}
containers:
  {{- list $main | toYaml | nindent 2 }}
{{- end }}
volumes:
  - name: backups
    persistentVolumeClaim:
      claimName: {{ include "redis-ha.backupClaim" $ }}
  - name: scripts
    configMap:
      name: {{ $fullname }}-{{ ternary "restore-scripts" "scripts" $restore }}
      defaultMode: 0555
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- if $restore }}
  - name: data
    persistentVolumeClaim:
      claimName: {{ .data }}
  {{- else }}
  - name: config
    configMap:
      name: {{ $fullname }}-config
  {{- if $v.auth.enabled }}
  {{- /* Least privilege: the backup user's password with ACL users, else the password. */}}
  - name: secret
    secret:
      defaultMode: 0400
      {{- if $v.acl.enabled }}
      secretName: {{ $v.acl.existingSecret }}
      items:
        - key: {{ $v.acl.users.backup.passwordKey }}
          path: acl/backup
      {{- else }}
      secretName: {{ include "redis-ha.secretName" $ }}
      items:
        - key: {{ include "redis-ha.secretKey" $ }}
          path: password
      {{- end }}
  {{- end }}
  {{- with include "redis-ha.tlsVolume" $ }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- end }}
{{- end -}}

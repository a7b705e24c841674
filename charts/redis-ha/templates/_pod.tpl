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
  image: {{ include "redis-ha.image" .Values.image }}
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
    {{- toYaml .Values.redis.startupProbe | nindent 4 }}
  livenessProbe:
    exec:
      command: ["sh", "/scripts/probe.sh", "sentinel-liveness"]
    {{- toYaml .Values.redis.livenessProbe | nindent 4 }}
  readinessProbe:
    exec:
      command: ["sh", "/scripts/probe.sh", "sentinel-readiness"]
    {{- toYaml .Values.redis.readinessProbe | nindent 4 }}
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
    # The certificate names the pods, not 127.0.0.1, and the exporter verifies the name:
    # it connects to its own pod's FQDN.
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: REDIS_ADDR
      value: rediss://$(POD_NAME).{{ include "redis-ha.headless" $ }}.{{ $.Release.Namespace }}.svc.{{ $.Values.clusterDomain }}:{{ .target }}
    - name: REDIS_EXPORTER_TLS_CA_CERT_FILE
      value: /tls/ca.crt
    - name: REDIS_EXPORTER_TLS_CLIENT_CERT_FILE
      value: /tls/tls.crt
    - name: REDIS_EXPORTER_TLS_CLIENT_KEY_FILE
      value: /tls/tls.key
    {{- else }}
    - name: REDIS_ADDR
      value: redis://127.0.0.1:{{ .target }}
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
    - name: REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ ternary $acl.existingSecret (include "redis-ha.secretName" $) $acl.enabled }}
          key: {{ ternary $acl.users.exporter.passwordKey (include "redis-ha.secretKey" $) $acl.enabled }}
    {{- end }}
  ports:
    - name: {{ .portName }}
      containerPort: {{ .port }}
  livenessProbe:
    httpGet:
      path: /health
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
  {{- with include "redis-ha.tlsVolumeMount" $ }}
  volumeMounts:
    {{- . | nindent 4 }}
  {{- end }}
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
            {{- range $role, $user := .Values.acl.users }}
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
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Name of the chart, overridable. */}}
{{- define "kestrel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every object name: the release name, plus the chart name unless the release name
already contains it. Truncated so that "<fullname>-default-rules" stays within 63 characters.
*/}}
{{- define "kestrel.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 42 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 42 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 42 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kestrel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "kestrel.labels" -}}
helm.sh/chart: {{ include "kestrel.chart" . }}
app.kubernetes.io/name: {{ include "kestrel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kestrel
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include "kestrel.selectorLabels" (list . "operator") */}}
{{- define "kestrel.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "kestrel.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* All labels of one component's objects: include "kestrel.componentLabels" (list . "agent") */}}
{{- define "kestrel.componentLabels" -}}
{{ include "kestrel.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* ServiceAccount names. */}}
{{- define "kestrel.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "kestrel.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kestrel.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (printf "%s-agent" (include "kestrel.fullname" .)) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image reference: include "kestrel.image" (list . .Values.operator.image) */}}
{{- define "kestrel.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Names of the chart's rules ConfigMaps (never labelled kestrel.dev/rules: the operator owns those). */}}
{{- define "kestrel.defaultRulesConfigMap" -}}
{{- printf "%s-default-rules" (include "kestrel.fullname" .) -}}
{{- end -}}

{{- define "kestrel.customRulesConfigMap" -}}
{{- printf "%s-custom-rules" (include "kestrel.fullname" .) -}}
{{- end -}}

{{/* Validation of values that would otherwise fail late, in the cluster. */}}
{{- define "kestrel.validateValues" -}}
{{- if not (has .Values.operator.logFormat (list "text" "json")) -}}
{{- fail (printf "operator.logFormat must be text or json, not %q" .Values.operator.logFormat) -}}
{{- end -}}
{{- if lt (int .Values.operator.replicas) 1 -}}
{{- fail "operator.replicas must be at least 1" -}}
{{- end -}}
{{- if lt (int .Values.operator.alertsPerNamespace) 1 -}}
{{- fail "operator.alertsPerNamespace must be at least 1" -}}
{{- end -}}
{{- range $file, $_ := .Values.agent.customRules -}}
{{- if not (regexMatch "^[A-Za-z0-9._-]+\\.ya?ml$" $file) -}}
{{- fail (printf "agent.customRules: key %q must be a file name ending in .yaml or .yml" $file) -}}
{{- end -}}
{{- end -}}
{{- end -}}

// The C side of the plugin: Mosquitto's plugin entry points and event callbacks, which
// hand every decision to the Go side (plugin.go).
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include "_cgo_export.h"

static mosquitto_plugin_id_t *plugin_id;

void ota_log(int level, const char *msg) { mosquitto_log_printf(level, "%s", msg); }

int ota_kick(const char *username) { return mosquitto_kick_client_by_username(username, false); }

static int basic_auth_cb(int event, void *event_data, void *userdata) {
	struct mosquitto_evt_basic_auth *ed = event_data;
	return goBasicAuth((char *)mosquitto_client_id(ed->client), ed->username, ed->password);
}

static int acl_check_cb(int event, void *event_data, void *userdata) {
	struct mosquitto_evt_acl_check *ed = event_data;
	return goACLCheck((char *)mosquitto_client_username(ed->client), (char *)ed->topic, ed->access);
}

// Ticks run on the broker's own thread, the only one allowed to disconnect clients.
static int tick_cb(int event, void *event_data, void *userdata) {
	goTick();
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions) {
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count) {
	plugin_id = identifier;
	char **keys = calloc(option_count + 1, sizeof(char *));
	char **values = calloc(option_count + 1, sizeof(char *));
	for (int i = 0; i < option_count; i++) {
		keys[i] = options[i].key;
		values[i] = options[i].value;
	}
	int rc = goInit(keys, values, option_count);
	free(keys);
	free(values);
	if (rc != MOSQ_ERR_SUCCESS) return rc;
	if (mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, basic_auth_cb, NULL, NULL) ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, acl_check_cb, NULL, NULL) ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_TICK, tick_cb, NULL, NULL)) {
		return MOSQ_ERR_UNKNOWN;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count) {
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, basic_auth_cb, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, acl_check_cb, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, tick_cb, NULL);
	goCleanup();
	return MOSQ_ERR_SUCCESS;
}
